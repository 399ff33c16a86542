"""Forms for the step page. They check the shape of what the browser sent; the engine judges it."""

import re

from django import forms
from django.utils.translation import gettext_lazy as _

from mars_labs.schemas import MAX_STEP_SECONDS

QUESTION_FIELD = re.compile(r"^q(\d+)$")


class HeartbeatForm(forms.Form):
    """``seconds`` of active time the page counted while visible since its previous beat."""

    seconds = forms.FloatField(min_value=0, max_value=MAX_STEP_SECONDS)
    watched = forms.IntegerField(min_value=0, max_value=100, required=False)  # % of a video played

    def first_error(self):
        field, errors = next(iter(self.errors.items()))
        return f"{field}: {errors[0]}"


class QuizForm(forms.Form):
    """One required radio group per question, named ``q0``, ``q1``, ... .

    Built from ``engine.quiz_questions(step)``, which never holds the answers,
    so nothing rendered from this form can give them away. A posted ``qN``
    that names no question is an error too: the engine refuses extra answers,
    and the learner should hear why rather than have them dropped silently.
    """

    def __init__(self, *args, questions, **kwargs):
        super().__init__(*args, **kwargs)
        self.questions = questions
        for question in questions:
            self.fields[f"q{question['index']}"] = forms.TypedChoiceField(
                label=question["text"],
                choices=[(str(i), text) for i, text in question["choices"]],
                coerce=int,
                widget=forms.RadioSelect(attrs={"class": "form-check-input"}),
                error_messages={"required": _("Choose an answer to this question.")},
            )

    def clean(self):
        cleaned = super().clean()
        extra = sorted(
            key for key in self.data if QUESTION_FIELD.match(key) and key not in self.fields
        )
        if extra:
            raise forms.ValidationError(
                _("These answers match no question: %(names)s.") % {"names": ", ".join(extra)}, code="extra"
            )
        return cleaned

    def answers(self):
        """``{"0": 2, "1": 0}``, the shape ``engine.submit_quiz`` takes."""
        return {str(q["index"]): self.cleaned_data[f"q{q['index']}"] for q in self.questions}

    def bound_questions(self):
        """(question, bound field) pairs, in order, for the template."""
        return [(q, self[f"q{q['index']}"]) for q in self.questions]


class AnswerForm(forms.Form):
    answer = forms.CharField(
        label=_("Your answer"),
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 4}),
        error_messages={"required": _("Write an answer first.")},
    )
