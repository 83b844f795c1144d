module github.com/ctharness/ctharness

go 1.26

require (
	github.com/gorilla/mux v1.8.1
	github.com/valyala/fastjson v1.6.10
	go.yaml.in/yaml/v3 v3.0.6
)
