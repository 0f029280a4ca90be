// The bench's small app on Go's net/http, standard library only (bench scenario (h)).
// GET /small answers the ~100 bytes of JSON in $BENCH_SMALL_JSON, POST /echo the request body back.
// Usage: app PORT
package main

import (
	"io"
	"log"
	"net/http"
	"os"
	"strconv"
)

func answer(w http.ResponseWriter, body []byte, contentType string) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.Write(body)
}

func main() {
	small, err := os.ReadFile(os.Getenv("BENCH_SMALL_JSON"))
	if err != nil {
		log.Fatal(err)
	}
	http.HandleFunc("/small", func(w http.ResponseWriter, r *http.Request) {
		answer(w, small, "application/json")
	})
	http.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		answer(w, body, "text/plain")
	})
	log.Fatal(http.ListenAndServe("127.0.0.1:"+os.Args[1], nil))
}
