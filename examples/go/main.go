// A Go net/http app, standard library only, unchanged for Lambda (SPEC PKG-5): lambda-adapter
// forwards each request to it.
//
//	GET  /                     what this is
//	GET  /api/tasks            the tasks, as JSON
//	POST /api/tasks            {"title": "..."} adds one (201, with its Location)
//	GET  /api/tasks/{id}       one task, or 404
//	GET  /events?count=N       server-sent events: N progress events, then "done"
//
// The events need AWS_LWA_INVOKE_MODE=response_stream (a Function URL with InvokeMode
// RESPONSE_STREAM) to reach the client one by one; the JSON API works in either mode.
package main

import (
	"encoding/json"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

type task struct {
	ID    int    `json:"id"`
	Title string `json:"title"`
	Done  bool   `json:"done"`
}

// store is shared by concurrent requests (net/http serves each on its own goroutine).
type store struct {
	mu    sync.Mutex
	tasks []task
}

func (s *store) list() []task {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]task(nil), s.tasks...)
}

func (s *store) add(title string) task {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := task{ID: len(s.tasks) + 1, Title: title}
	s.tasks = append(s.tasks, t)
	return t
}

func (s *store) get(id int) (task, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.tasks {
		if t.ID == id {
			return t, true
		}
	}
	return task{}, false
}

func writeJSON(w http.ResponseWriter, status int, value any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(value); err != nil {
		log.Printf("writing the response: %v", err)
	}
}

func (s *store) tasksHandler(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		writeJSON(w, http.StatusOK, s.list())
	case http.MethodPost:
		var body struct {
			Title string `json:"title"`
		}
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&body); err != nil || strings.TrimSpace(body.Title) == "" {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": `send {"title": "..."}`})
			return
		}
		t := s.add(body.Title)
		w.Header().Set("Location", fmt.Sprintf("/api/tasks/%d", t.ID))
		writeJSON(w, http.StatusCreated, t)
	default:
		w.Header().Set("Allow", "GET, POST")
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "method not allowed"})
	}
}

func (s *store) taskHandler(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/api/tasks/"))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "the id is a number"})
		return
	}
	if t, ok := s.get(id); ok {
		writeJSON(w, http.StatusOK, t)
		return
	}
	writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such task"})
}

// eventsHandler streams progress events, flushing each one so that it leaves at once.
func eventsHandler(w http.ResponseWriter, r *http.Request) {
	flusher, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	count, err := strconv.Atoi(r.URL.Query().Get("count"))
	if err != nil || count < 1 || count > 100 {
		count = 5
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	for i := 1; i <= count; i++ {
		fmt.Fprintf(w, "id: %d\ndata: {\"step\":%d,\"of\":%d}\n\n", i, i, count)
		flusher.Flush()
		select {
		case <-r.Context().Done():
			return
		case <-time.After(150 * time.Millisecond):
		}
	}
	fmt.Fprint(w, "event: done\ndata: {}\n\n")
}

func index(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/" {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "not found"})
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintln(w, "Hello from Go net/http behind lambda-adapter")
}

// port is AWS_LWA_PORT, else PORT, else 8080: the same order the adapter reads them in.
func port() string {
	for _, name := range []string{"AWS_LWA_PORT", "PORT"} {
		if value := os.Getenv(name); value != "" {
			return value
		}
	}
	return "8080"
}

func main() {
	tasks := &store{tasks: []task{{ID: 1, Title: "try lambda-adapter", Done: true}}}
	mux := http.NewServeMux()
	mux.HandleFunc("/", index)
	mux.HandleFunc("/api/tasks", tasks.tasksHandler)
	mux.HandleFunc("/api/tasks/", tasks.taskHandler)
	mux.HandleFunc("/events", eventsHandler)

	listener, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", port()))
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("listening on http://%s", listener.Addr())
	server := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(server.Serve(listener))
}
