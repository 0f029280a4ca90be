"""The notes: an HTML page with a CSRF-protected form, and a small JSON API."""

import json
import threading

from django import forms
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

# In memory, behind a lock: gunicorn runs several threads, and on Lambda Managed Instances
# several invocations run at once.
LOCK = threading.Lock()
NOTES = [{"id": 1, "text": "Django runs on Lambda unchanged"}]


class NoteForm(forms.Form):
    text = forms.CharField(max_length=500)


def add(text):
    with LOCK:
        note = {"id": max((n["id"] for n in NOTES), default=0) + 1, "text": text}
        NOTES.append(note)
        return note


def index(request):
    with LOCK:
        notes = list(NOTES)
    return render(request, "notes/index.html", {"notes": notes})


def new_note(request):
    form = NoteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        add(form.cleaned_data["text"])
        return redirect("index")
    return render(request, "notes/new.html", {"form": form}, status=400 if form.errors else 200)


# A JSON API used by scripts: token-less, so exempt from CSRF (put authentication in front of it).
@csrf_exempt
@require_http_methods(["GET", "POST"])
def api_notes(request):
    if request.method == "POST":
        try:
            text = json.loads(request.body)["text"]
        except (ValueError, KeyError, TypeError):
            return JsonResponse({"error": 'send {"text": "..."}'}, status=400)
        return JsonResponse(add(str(text)), status=201)
    with LOCK:
        return JsonResponse(list(NOTES), safe=False)


def api_note(request, note_id):
    with LOCK:
        found = next((n for n in NOTES if n["id"] == note_id), None)
    return JsonResponse(found) if found else JsonResponse({"error": "no such note"}, status=404)
