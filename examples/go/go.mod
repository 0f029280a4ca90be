module example.com/lambda-adapter/go-example

go 1.19
