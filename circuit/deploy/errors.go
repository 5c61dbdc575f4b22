package deploy

import "errors"

// Sentinel errors of a deployment. Run and Work wrap them (and circuit's
// ErrLost, ErrClosed) with the details; test them with errors.Is.
var (
	// ErrRunInUse reports a run id that another coordinator already serves.
	ErrRunInUse = errors.New("deploy: run id in use")
	// ErrRefused reports a worker that the coordinator refused (a node the
	// placement does not name, a node that already joined from another
	// process), or a manifest the worker refused.
	ErrRefused = errors.New("deploy: refused")
	// ErrManifest reports a manifest a worker cannot use: unreadable,
	// another version, or inconsistent.
	ErrManifest = errors.New("deploy: bad manifest")
	// ErrNeedsNATS reports a placement with nodes in other processes on a
	// bus that cannot reach them (the in-process bus).
	ErrNeedsNATS = errors.New("deploy: remote nodes need a NATS bus")
	// ErrJournal reports a journal that cannot be read, or that belongs to
	// another run than the one being resumed.
	ErrJournal = errors.New("deploy: bad journal")
	// ErrConfig reports options that contradict each other or a model and
	// data set that do not fit.
	ErrConfig = errors.New("deploy: bad configuration")
)
