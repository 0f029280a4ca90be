"""URL routes of the notebook project."""

from django.urls import path

from notes import views

urlpatterns = [
    path("", views.index, name="index"),
    path("notes/new", views.new_note, name="new-note"),
    path("api/notes", views.api_notes, name="api-notes"),
    path("api/notes/<int:note_id>", views.api_note, name="api-note"),
]
