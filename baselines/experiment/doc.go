// Package experiment runs the Conv-NGC paper's comparisons — Tables 1, 2a
// and 2b and Figures 3 and 4 — for Conv-NGC (package ngc) and the
// baselines (package baselines) on any data sets package data loads. It is
// the engine of "ngc experiment".
//
// A Protocol names the tables, models, data sets, out-of-distribution
// pairs, trials, the training and evaluation budget, the seeds and the
// models' settings. Run turns it into trials — one model trained on one
// data set with one seed, then evaluated on the test images the tables
// need (reconstruction and denoising of its own test set for Tables 1 and
// 2a, reconstruction of another set's for 2b) — and stores each finished
// trial as JSON under DIR/trials, its model under DIR/models and, for trial
// 1, sample images and states under DIR/samples.
//
// Every stored trial carries the part of the protocol that produced it and
// its file name carries that part's fingerprint (a SHA-256 prefix), so a
// rerun of the same protocol recomputes nothing, an interrupted run resumes
// at the first unfinished trial, a protocol that asks for more evaluations
// of a stored model loads it instead of training it again, and a changed
// protocol never reuses a trial it did not make (the old files stay,
// counted as Results.Ignored).
//
// From the trials of the protocol Run writes DIR/tables.md (the paper's
// table layouts, mean ± sample standard deviation over trials),
// DIR/trials.csv (one row per evaluation), DIR/trials.json,
// DIR/protocol.json, DIR/figure3.png and DIR/figure4.png.
package experiment
