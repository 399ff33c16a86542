"""Admin forms for the curriculum, written for teachers: no raw JSON, plain messages.

* ``StepForm`` edits a LearningStep. Its completion criteria are a type
  select plus the one number the type needs (seconds for "time", pass mark
  for "quiz"); its quiz is a text box in a small format (``parse_questions``);
  video / simulation address, expected answer and instructions are plain
  fields. ``clean()`` builds the JSON the model stores
  (``required_completion_criteria``, ``activity``) and checks it with the
  same validators as the importer and the API (mars_labs/schemas.py).
* ``StepInlineFormSet`` (the steps on the chapter page) checks the chapter's
  positions as they will be *after* saving, so steps can swap places, and
  fills in a blank position with the next free one.
* ``ChapterForm`` says in words which chapter already has a title or a
  position, and refuses prerequisite loops, naming them.

Positions can swap because the admin moves the rows that change onto
temporary positions inside the saving transaction first
(``curriculum.admin.park_positions``); the forms therefore leave the
(chapter, order) and (textbook, order) constraints to these checks rather
than to the per-row database lookups Django would make.
"""

from __future__ import annotations

import copy
import json

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db.models import Count, Max
from django.forms.models import BaseInlineFormSet, BaseModelFormSet
from django.templatetags.static import static
from django.urls import reverse_lazy
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from mars_labs.schemas import MAX_STEP_SECONDS, SchemaError, validate_activity, validate_completion_criteria
from progress.models import LearningProgress

from .enums import CriteriaType, StepType
from .integrity import describe_cycle, prerequisite_cycle
from .models import Chapter, LearningStep, default_completion_criteria

# The importer's limit (curriculum/importer.py MAX_ORDER_INDEX), so parking positions always fit.
MAX_POSITION = 1_000_000
ACTIVITY_TEXT_FIELDS = ("video_url", "simulation_url", "expected_answer", "instructions")


# --------------------------------------------------------------------------
# The quiz text format
# --------------------------------------------------------------------------

QUIZ_FORMAT_HELP = gettext_lazy(
    "Start each question with <code>Q:</code>, then one choice per line: <code>-</code> before a wrong choice, "
    "<code>*</code> before the correct one (exactly one). An optional <code>Why:</code> line explains the answer "
    "once the learner has answered."
    "<details><summary>Example</summary><pre>Q: 6 V drives 2 A through a wire. Its resistance is\n- 0.33 Ω\n"
    "* 3 Ω\n- 12 Ω\nWhy: R = V / I = 6 / 2 = 3 Ω.\n\nQ: The voltmeter is connected\n- in series\n"
    "* in parallel</pre></details>"
)


class QuizFormatError(ValueError):
    def __init__(self, messages):
        self.messages = list(messages)
        super().__init__("\n".join(self.messages))


def parse_questions(text):
    """The quiz text format -> ``activity["questions"]``; raises ``QuizFormatError`` listing every mistake.

    Lines starting with ``Q:`` start a question, ``-`` a wrong choice, ``*``
    the correct choice, ``Why:`` the explanation. Any other non-blank line
    continues whatever came before it (a long question, choice or
    explanation). Blank lines are ignored.
    """
    questions, errors = [], []
    current = None
    last = None  # ("text" | "choice" | "why")

    for number, raw in enumerate(str(text or "").splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        head = line[:2]
        if line[:2].lower() == "q:":
            current = {"text": line[2:].strip(), "choices": [], "correct": [], "why": "", "line": number}
            questions.append(current)
            last = "text"
        elif head in ("- ", "* ") or line in ("-", "*"):
            if current is None:
                errors.append(
                    _("Line %(n)d: a choice before any question; start a question with “Q:”.") % {"n": number}
                )
                continue
            current["choices"].append(line[1:].strip())
            if line[0] == "*":
                current["correct"].append(len(current["choices"]) - 1)
            last = "choice"
        elif line[:4].lower() == "why:":
            if current is None:
                errors.append(_("Line %(n)d: “Why:” before any question.") % {"n": number})
                continue
            current["why"] = line[4:].strip()
            last = "why"
        elif current is None:
            errors.append(
                _("Line %(n)d: start a question with “Q:” (for example “Q: What is 2 + 2?”).") % {"n": number}
            )
        elif last == "text":
            current["text"] = f"{current['text']}\n{line}".strip()
        elif last == "choice":
            current["choices"][-1] = f"{current['choices'][-1]} {line}".strip()
        else:
            current["why"] = f"{current['why']}\n{line}".strip()

    result = []
    for index, q in enumerate(questions, start=1):
        label = _("Question %(n)d (line %(line)d)") % {"n": index, "line": q["line"]}
        if not q["text"]:
            errors.append(_("%(q)s has no text after “Q:”.") % {"q": label})
        if any(not c for c in q["choices"]):
            errors.append(_("%(q)s has an empty choice.") % {"q": label})
        if len(q["choices"]) < 2:
            errors.append(_("%(q)s needs at least two choices, one per line starting with “-” or “*”.") % {"q": label})
        if not q["correct"] and q["choices"]:
            errors.append(_("%(q)s has no correct choice: mark it with “*” instead of “-”.") % {"q": label})
        if len(q["correct"]) > 1:
            errors.append(_("%(q)s has %(k)d choices marked correct with “*”; mark exactly one.")
                          % {"q": label, "k": len(q["correct"])})
        item = {"text": q["text"], "choices": q["choices"], "answer": q["correct"][0] if q["correct"] else 0}
        if q["why"]:
            item["explanation"] = q["why"]
        result.append(item)
    if errors:
        raise QuizFormatError(errors)
    return result


def format_questions(questions):
    """``activity["questions"]`` -> the quiz text format (``parse_questions`` reads it back unchanged)."""

    def lines(text, prefix):
        first, *rest = str(text).split("\n")
        return [f"{prefix}{first}", *(f"  {line}" for line in rest)]

    blocks = []
    for q in questions or []:
        block = lines(q.get("text", ""), "Q: ")
        for i, choice in enumerate(q.get("choices", [])):
            block += lines(choice, "* " if i == q.get("answer") else "- ")
        if q.get("explanation"):
            block += lines(q["explanation"], "Why: ")
        blocks.append("\n".join(block))
    return "\n\n".join(blocks)


# --------------------------------------------------------------------------
# Widgets
# --------------------------------------------------------------------------


class MarkdownTextarea(forms.Textarea):
    """A textarea with a "Preview" button (static/js/markdown_preview.js) that renders it as learners see it.

    The button is rendered with the field (no inline script): the script finds
    it by its data attributes, also in inline rows added later. The preview is
    shown in a sandboxed frame (no scripts, a separate origin) styled with the
    step page's stylesheets, listed in ``data-preview-css``.
    """

    PREVIEW_CSS = ("vendor/bootstrap-5.3.8/bootstrap.min.css", "css/mars.css", "css/learning.css")

    def __init__(self, attrs=None, preview_url=""):
        super().__init__(attrs={"rows": 10, "cols": 80, "class": "vLargeTextField markdown-source", **(attrs or {})})
        self.preview_url = preview_url

    def render(self, name, value, attrs=None, renderer=None):
        textarea = super().render(name, value, attrs, renderer)
        if not self.preview_url:
            return textarea
        return format_html(
            '<div class="markdown-editor">{}<div class="markdown-preview-tools">'
            '<button type="button" class="button markdown-preview-button" data-markdown-preview-url="{}" '
            'data-preview-css="{}" data-hide-label="{}" hidden>{}</button></div>'
            '<div class="markdown-preview" hidden aria-live="polite"></div></div>',
            textarea, self.preview_url, " ".join(static(path) for path in self.PREVIEW_CSS), _("Hide preview"),
            _("Preview as learners see it"),
        )


# --------------------------------------------------------------------------
# Steps
# --------------------------------------------------------------------------


def _walk_to_cycle(start, parents):
    """Follow prerequisite links from ``start``; the ids along a loop back to ``start``, or None."""
    path, seen, node = [start], {start}, parents.get(start)
    while node is not None:
        path.append(node)
        if node == start:
            return path
        if node in seen:
            return None
        seen.add(node)
        node = parents.get(node)
    return None


class StepForm(forms.ModelForm):
    """A LearningStep without JSON: criteria as a type and a number, the quiz as text."""

    criteria_type = forms.ChoiceField(
        label=gettext_lazy("Completed when"), choices=CriteriaType.choices, initial="time",
        help_text=gettext_lazy("What the learner must do for this step to count as completed. Learners who "
                               "already started the step keep the rule they started with, until you recompute."),
    )
    criteria_seconds = forms.IntegerField(
        label=gettext_lazy("Seconds"), required=False, min_value=1, max_value=MAX_STEP_SECONDS,
        help_text=gettext_lazy("For “Time spent”: seconds of active time on the page (60 = one minute)."),
        widget=forms.NumberInput(attrs={"class": "vIntegerField", "placeholder": "60"}),
    )
    criteria_min_score = forms.IntegerField(
        label=gettext_lazy("Pass mark (%)"), required=False, min_value=0, max_value=100,
        help_text=gettext_lazy("For “Quiz score”: the best score, in percent, that passes."),
        widget=forms.NumberInput(attrs={"class": "vIntegerField", "placeholder": "70"}),
    )
    questions = forms.CharField(
        label=gettext_lazy("Quiz questions"), required=False, help_text=QUIZ_FORMAT_HELP,
        widget=forms.Textarea(attrs={
            "rows": 10, "cols": 80, "class": "vLargeTextField quiz-source", "spellcheck": "true",
            "placeholder": "Q: The unit of resistance is\n- the volt\n* the ohm\n- the ampere\nWhy: R = V / I.",
        }),
    )
    video_url = forms.CharField(
        label=gettext_lazy("Video address"), required=False, max_length=2000,
        help_text=gettext_lazy("For a video step: https://… or a site path like /static/…"),
        widget=forms.TextInput(attrs={"class": "vURLField"}),
    )
    simulation_url = forms.CharField(
        label=gettext_lazy("Simulation address"), required=False, max_length=2000,
        help_text=gettext_lazy("For a simulation step: https://… or a site path."),
        widget=forms.TextInput(attrs={"class": "vURLField"}),
    )
    expected_answer = forms.CharField(
        label=gettext_lazy("Expected answer"), required=False,
        help_text=gettext_lazy("For an exercise with “Answer submitted”: the answer that is accepted "
                               "(case, spacing and punctuation are ignored). Leave empty to accept any answer."),
        widget=forms.TextInput(attrs={"class": "vTextField"}),
    )
    instructions = forms.CharField(
        label=gettext_lazy("Instructions"), required=False,
        help_text=gettext_lazy("Shown with the video, simulation or exercise."),
        widget=forms.Textarea(attrs={"rows": 2, "cols": 80, "class": "vLargeTextField"}),
    )

    class Meta:
        model = LearningStep
        fields = ["chapter", "title", "step_type", "order_index", "content", "prerequisite_step"]
        if hasattr(LearningStep, "optional_for_intermediate"):  # learning paths
            fields.append("optional_for_intermediate")
        widgets = {"content": MarkdownTextarea(preview_url=reverse_lazy("admin:curriculum_markdown_preview"))}
        labels = {"order_index": gettext_lazy("Position")}
        help_texts = {
            "order_index": gettext_lazy("Learners do a chapter's steps in this order. Leave empty for the end."),
            "title": gettext_lazy("Short, e.g. “Theory”, “Procedure”, “Quiz”."),
            "content": gettext_lazy(
                "Markdown: **bold**, *italic*, ## heading, - list, [link](https://…). Scripts and unsafe HTML are "
                "removed. “Preview as learners see it” shows the result."
            ),
        }

    # On the chapter page the inline formset checks positions and prerequisites across all rows instead.
    standalone = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "order_index" in self.fields:
            self.fields["order_index"].required = False
            self.fields["order_index"].max_value = MAX_POSITION
            self.fields["order_index"].widget.attrs.update({"min": 0, "max": MAX_POSITION})
        criteria = self.instance.required_completion_criteria or default_completion_criteria()
        # To tell, after saving, whether the criteria changed under learners working on the step.
        self.original_criteria = None if self.instance._state.adding else copy.deepcopy(criteria)
        activity = self.instance.activity or {}
        initial = {
            "criteria_type": criteria.get("type", "time"),
            "criteria_seconds": criteria.get("value") if criteria.get("type") == "time" else None,
            "criteria_min_score": criteria.get("min_score") if criteria.get("type") == "quiz" else None,
            "questions": format_questions(activity.get("questions")),
            **{name: activity.get(name, "") for name in ACTIVITY_TEXT_FIELDS},
        }
        for name, value in initial.items():
            self.initial.setdefault(name, value)

    def _get_validation_exclusions(self):
        # Positions are checked by clean() / the formset, knowing about swaps (see the module docstring).
        return {*super()._get_validation_exclusions(), "order_index"}

    def _update_errors(self, errors):
        # Model.clean() names the JSON fields this form shows as other fields; put its messages there
        # (Django would otherwise fail on an error for a field the form does not have).
        if hasattr(errors, "error_dict"):
            remap = {"required_completion_criteria": "criteria_type", "activity": "questions"}
            moved = {}
            for key, messages in errors.error_dict.items():
                key = remap.get(key, key)
                if key != NON_FIELD_ERRORS and key not in self.fields:
                    key = NON_FIELD_ERRORS
                moved.setdefault(key, []).extend(messages)
            errors = ValidationError(moved)
        super()._update_errors(errors)

    # --- building the JSON

    def _criteria(self, data):
        kind = data.get("criteria_type")
        if not kind:
            return None
        criteria = {"type": kind}
        if kind == "time":
            if data.get("criteria_seconds") is None:
                if "criteria_seconds" not in self.errors:
                    self.add_error("criteria_seconds", _("How many seconds of active time complete this step? "
                                                         "For example 60."))
                return None
            criteria["value"] = data["criteria_seconds"]
        elif kind == "quiz":
            if data.get("criteria_min_score") is None:
                if "criteria_min_score" not in self.errors:
                    self.add_error("criteria_min_score", _("What score passes, in percent? For example 70."))
                return None
            criteria["min_score"] = data["criteria_min_score"]
        try:
            validate_completion_criteria(criteria)
        except SchemaError as exc:
            self.add_error("criteria_type", exc.messages)
            return None
        return criteria

    def _activity(self, data, criteria):
        activity = {}
        text = data.get("questions") or ""
        if text.strip():
            try:
                activity["questions"] = parse_questions(text)
            except QuizFormatError as exc:
                self.add_error("questions", exc.messages)
                return None
        for name in ACTIVITY_TEXT_FIELDS:
            value = (data.get(name) or "").strip()
            if value:
                activity[name] = value
        wants_quiz = data.get("step_type") == StepType.QUIZ or (criteria or {}).get("type") == "quiz"
        if wants_quiz and not activity.get("questions"):
            self.add_error("questions", _("A quiz needs at least one question: write them here, "
                                          "one “Q:” line, then its choices."))
            return None
        try:
            validate_activity(activity, criteria=criteria)
        except SchemaError as exc:
            for message in exc.messages:
                field = next((n for n in ACTIVITY_TEXT_FIELDS if f"activity.{n}" in str(message)), "questions")
                self.add_error(field, message)
            return None
        return activity

    def clean(self):
        data = super().clean()
        criteria = self._criteria(data)
        activity = self._activity(data, criteria)
        if criteria is not None and activity is not None:
            self.instance.required_completion_criteria = criteria
            self.instance.activity = activity
        if self.standalone:
            self._check_prerequisite(data)
            self._check_position(data)
        return data

    def _check_prerequisite(self, data):
        prerequisite = data.get("prerequisite_step")
        if prerequisite is None:
            return
        chapter = data.get("chapter") or getattr(self.instance, "chapter", None)
        position = data.get("order_index")
        if (chapter is not None and prerequisite.chapter_id == chapter.pk and position is not None
                and prerequisite.order_index >= position):
            self.add_error("prerequisite_step", _(
                "“%(title)s” comes later in this chapter, so it could never be done first: "
                "pick an earlier step, or a step in another chapter."
            ) % {"title": prerequisite.title})
            return
        cycle = prerequisite_cycle(LearningStep, self.instance.pk, prerequisite.pk)
        if cycle:
            self.add_error("prerequisite_step", describe_cycle(cycle))

    def _check_position(self, data):
        chapter = data.get("chapter")
        if chapter is None:
            return
        others = LearningStep.objects.filter(chapter=chapter).exclude(pk=self.instance.pk)
        if data.get("order_index") is None:
            data["order_index"] = (others.aggregate(m=Max("order_index"))["m"] or 0) + 1
            self.instance.order_index = data["order_index"]
            return
        taken = others.filter(order_index=data["order_index"]).values_list("title", flat=True).first()
        if taken is not None:
            free = (others.aggregate(m=Max("order_index"))["m"] or 0) + 1
            self.add_error("order_index", _(
                "Position %(n)d in this chapter is taken by “%(title)s”. The next free position is %(free)d "
                "(or reorder the steps on the chapter's page, where positions can be swapped)."
            ) % {"n": data["order_index"], "title": taken, "free": free})


class StepInlineFormSet(BaseInlineFormSet):
    """The steps on the chapter page: positions and prerequisite loops checked across all rows at once."""

    def _construct_form(self, i, **kwargs):
        form = super()._construct_form(i, **kwargs)
        form.standalone = False
        return form

    def _live_forms(self):
        return [
            f for f in self.forms
            if f not in self.deleted_forms and hasattr(f, "cleaned_data")
            and (not f.instance._state.adding or f.has_changed())
        ]

    def clean(self):
        super().clean()
        if any(self.errors):
            return
        self._refuse_deleting_steps_with_progress()
        live = self._live_forms()
        # Blank positions: after the highest one, in the order the rows are on the page.
        highest = max((f.cleaned_data.get("order_index") or 0 for f in live), default=0)
        for form in live:
            if form.cleaned_data.get("order_index") is None:
                highest += 1
                form.cleaned_data["order_index"] = highest
                form.instance.order_index = highest
        # Rows of this chapter the page does not show (none, normally) keep their positions.
        shown = {f.instance.pk for f in self.forms}
        final = {
            pk: (position, title)
            for pk, position, title in LearningStep.objects.filter(chapter=self.instance)
            .exclude(pk__in=shown).values_list("pk", "order_index", "title")
        } if self.instance.pk and not self.instance._state.adding else {}
        for form in live:
            final[form.instance.pk] = (form.cleaned_data["order_index"], form.cleaned_data.get("title"))
        by_position = {}
        for pk, (position, title) in final.items():
            by_position.setdefault(position, []).append((pk, title))
        for form in live:
            position = form.cleaned_data["order_index"]
            clash = [title for pk, title in by_position[position] if pk != form.instance.pk]
            if clash:
                form.add_error("order_index", _(
                    "Position %(n)d is also given to “%(other)s”: each step needs its own position."
                ) % {"n": position, "other": "”, “".join(clash)})
        self._check_prerequisites(live, final)

    def _refuse_deleting_steps_with_progress(self):
        """Deleting a step deletes learners' progress on it (and its history's link): refuse, and say so."""
        doomed = {f.instance.pk: f for f in self.deleted_forms if not f.instance._state.adding}
        if not doomed:
            return
        counts = dict(
            LearningProgress.objects.filter(step_id__in=doomed).values("step_id")
            .annotate(n=Count("user", distinct=True)).values_list("step_id", "n").order_by()
        )
        problems = []
        for pk, count in counts.items():
            form = doomed[pk]
            # A non-form error: the formset ignores errors on the rows it is deleting.
            problems.append(ngettext(
                "“%(title)s” cannot be deleted: %(n)d learner has progress on it, which would be lost. "
                "Keep it, or hide the whole chapter (untick “active”).",
                "“%(title)s” cannot be deleted: %(n)d learners have progress on it, which would be lost. "
                "Keep it, or hide the whole chapter (untick “active”).",
                count,
            ) % {"title": form.instance.title, "n": count})
        if problems:
            raise ValidationError(problems)

    def _check_prerequisites(self, live, final):
        with_prerequisite = [f for f in live if f.cleaned_data.get("prerequisite_step")]
        if not with_prerequisite:
            return
        rows = LearningStep.objects.values_list("pk", "prerequisite_step_id", "title")
        parents = {pk: parent for pk, parent, _title in rows}
        titles = {pk: title for pk, _parent, title in rows}
        deleted = {f.instance.pk for f in self.deleted_forms}
        for form in live:
            prerequisite = form.cleaned_data.get("prerequisite_step")
            parents[form.instance.pk] = prerequisite.pk if prerequisite else None
            titles[form.instance.pk] = form.cleaned_data.get("title") or titles.get(form.instance.pk, "?")
        for form in with_prerequisite:
            prerequisite = form.cleaned_data["prerequisite_step"]
            if prerequisite.pk in deleted:
                form.add_error("prerequisite_step", _("“%(title)s” is being deleted.") % {"title": prerequisite.title})
                continue
            if (prerequisite.pk in final and prerequisite.chapter_id == self.instance.pk
                    and final[prerequisite.pk][0] >= form.cleaned_data["order_index"]):
                form.add_error("prerequisite_step", _(
                    "“%(title)s” comes later in this chapter, so it could never be done first: "
                    "pick an earlier step, or a step in another chapter."
                ) % {"title": prerequisite.title})
                continue
            cycle = _walk_to_cycle(form.instance.pk, parents)
            if cycle:
                form.add_error("prerequisite_step", describe_cycle([titles.get(pk, "?") for pk in cycle]))

    def moving_rows(self):
        """Existing rows whose position changes or that are deleted: parked before saving."""
        return [
            f.instance.pk for f in self.initial_forms
            if f.instance.pk and (f in self.deleted_forms or "order_index" in f.changed_data)
        ]

    def highest_position(self):
        return max((f.cleaned_data.get("order_index") or 0 for f in self.forms if hasattr(f, "cleaned_data")),
                   default=0)


# --------------------------------------------------------------------------
# Chapters
# --------------------------------------------------------------------------


def textbook_name(subject, grade):
    if grade is None:
        return _("%(subject)s (every class)") % {"subject": subject}
    return _("%(subject)s class %(grade)d") % {"subject": subject, "grade": grade}


class ChapterForm(forms.ModelForm):
    class Meta:
        model = Chapter
        fields = ["subject", "grade", "title", "order_index", "description", "is_active", "prerequisite_chapter",
                  "slug", "external_id"]
        labels = {"order_index": gettext_lazy("Position")}
        help_texts = {
            "order_index": gettext_lazy("Its position in the subject's textbook for this class. "
                                        "Leave empty for the end."),
            "slug": gettext_lazy("The chapter's web address. Leave empty to make one from the title."),
            "is_active": gettext_lazy("Untick to hide the chapter from learners while you build it."),
            "prerequisite_chapter": gettext_lazy("A chapter learners must finish before this one opens."),
        }
        widgets = {"description": forms.Textarea(attrs={"rows": 3, "cols": 80, "class": "vLargeTextField"})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "order_index" in self.fields:
            self.fields["order_index"].required = False
            self.fields["order_index"].max_value = MAX_POSITION
        if "slug" in self.fields:
            self.fields["slug"].required = False

    def _get_validation_exclusions(self):
        # Title and position are checked in clean() with messages naming the other chapter.
        return {*super()._get_validation_exclusions(), "title", "order_index"}

    def clean(self):
        data = super().clean()
        subject, grade = data.get("subject"), data.get("grade")
        if subject is not None:
            self._check_textbook(data, subject, grade)
        prerequisite = data.get("prerequisite_chapter")
        if prerequisite is not None:
            if prerequisite.pk == self.instance.pk:
                self.add_error("prerequisite_chapter", _("A chapter cannot be its own prerequisite."))
            else:
                cycle = prerequisite_cycle(Chapter, self.instance.pk, prerequisite.pk)
                if cycle:
                    self.add_error("prerequisite_chapter", describe_cycle(cycle))
        return data

    def _check_textbook(self, data, subject, grade):
        others = Chapter.objects.filter(subject=subject, grade=grade).exclude(pk=self.instance.pk)
        where = textbook_name(subject, grade)
        title = data.get("title")
        if title and others.filter(title=title).exists():
            self.add_error("title", _("There is already a chapter “%(title)s” in %(where)s.")
                           % {"title": title, "where": where})
        free = (others.aggregate(m=Max("order_index"))["m"] or 0) + 1
        position = data.get("order_index")
        if position is None:
            data["order_index"] = free
            self.instance.order_index = free
            return
        taken = others.filter(order_index=position).values_list("title", flat=True).first()
        if taken is not None:
            self.add_error("order_index", _(
                "Position %(n)d in %(where)s is taken by “%(title)s”. The next free position is %(free)d "
                "(or swap positions in the chapter list, where several can change at once)."
            ) % {"n": position, "where": where, "title": taken, "free": free})


class ChapterListForm(forms.ModelForm):
    """The chapter list's editable position column."""

    class Meta:
        model = Chapter
        fields = ["order_index"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["order_index"].max_value = MAX_POSITION
        self.fields["order_index"].widget.attrs.update({"min": 0, "max": MAX_POSITION, "style": "width: 5em"})


class ChapterListFormSet(BaseModelFormSet):
    """Positions in the chapter list: checked per textbook as they will be after saving (swaps allowed)."""

    def clean(self):
        super().clean()
        if any(self.errors):
            return
        forms_by_pk = {f.instance.pk: f for f in self.forms if hasattr(f, "cleaned_data")}
        textbooks = {(f.instance.subject_id, f.instance.grade) for f in forms_by_pk.values()}
        final = {}
        for subject_id, grade in textbooks:
            for pk, position, title in Chapter.objects.filter(subject_id=subject_id, grade=grade).values_list(
                "pk", "order_index", "title"
            ):
                final[pk] = ((subject_id, grade), position, title)
        for pk, form in forms_by_pk.items():
            textbook, _position, title = final.get(pk, ((form.instance.subject_id, form.instance.grade), None, ""))
            final[pk] = (textbook, form.cleaned_data["order_index"], form.instance.title)
        seen = {}
        for pk, (textbook, position, title) in final.items():
            seen.setdefault((textbook, position), []).append((pk, title))
        for pk, form in forms_by_pk.items():
            textbook, position, _title = final[pk]
            clash = [title for other, title in seen[(textbook, position)] if other != pk]
            if clash and "order_index" in form.changed_data:
                form.add_error("order_index", _("Position %(n)d is also “%(other)s”'s.")
                               % {"n": position, "other": "”, “".join(clash)})

    def moving_rows(self):
        return [f.instance.pk for f in self.forms if "order_index" in f.changed_data]

    def highest_position(self):
        return max((f.cleaned_data.get("order_index") or 0 for f in self.forms if hasattr(f, "cleaned_data")),
                   default=0)


# --------------------------------------------------------------------------
# Import
# --------------------------------------------------------------------------

MAX_UPLOAD_BYTES = 5 * 1024 * 1024


class CurriculumUploadForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("Curriculum file"),
        help_text=gettext_lazy("A .json file in the MARS Labs curriculum format (as downloaded with “Export”)."),
        widget=forms.ClearableFileInput(attrs={"accept": ".json,application/json"}),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_UPLOAD_BYTES:
            raise ValidationError(_("The file is larger than 5 MB; is it really a curriculum?"))
        raw = upload.read()
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ValidationError(_("The file is not UTF-8 text (%(error)s).") % {"error": exc}) from exc
        try:
            self.cleaned_data["document"] = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValidationError(
                _("The file is not valid JSON: %(reason)s at line %(line)d, column %(column)d.")
                % {"reason": exc.msg, "line": exc.lineno, "column": exc.colno}
            ) from exc
        self.cleaned_data["text"] = text
        return upload
