"""factory-boy factories shared by every test module."""

import factory
from django.contrib.auth import get_user_model

from curriculum.enums import StepType
from curriculum.models import Chapter, LearningStep, Subject
from learners.models import Classroom
from progress.models import LearningPath, LearningProgress, Progress, ProgressEvent

DEFAULT_PASSWORD = "correct-horse-battery"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ["username"]
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"learner{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.LazyAttribute(lambda u: f"{u.username}@school.example")
    password = factory.PostGenerationMethodCall("set_password", DEFAULT_PASSWORD)

    @factory.post_generation
    def grade(self, create, extracted, **kwargs):
        """UserFactory(grade=12) sets the learner's class on the auto-created profile."""
        if create and extracted is not None:
            self.profile.grade = extracted
            self.profile.save(update_fields=["grade"])
        if create:
            self.save()


class TeacherFactory(UserFactory):
    username = factory.Sequence(lambda n: f"teacher{n}")
    is_staff = True


class ClassroomFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Classroom

    name = factory.Sequence(lambda n: f"Class 12-{n}")
    grade = 12


class SubjectFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Subject
        django_get_or_create = ["code"]

    code = factory.Sequence(lambda n: f"subj{n}")
    name = factory.LazyAttribute(lambda s: s.code.title())
    order = factory.Sequence(lambda n: n)


class ChapterFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Chapter

    subject = factory.SubFactory(SubjectFactory)
    grade = 12
    title = factory.Sequence(lambda n: f"Chapter {n}")
    description = "What this chapter is about."
    order_index = factory.Sequence(lambda n: n + 1)


class StepFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LearningStep

    chapter = factory.SubFactory(ChapterFactory)
    title = factory.Sequence(lambda n: f"Step {n}")
    content = "Some **reading**."
    step_type = StepType.READING
    order_index = factory.Sequence(lambda n: n + 1)
    required_completion_criteria = factory.LazyFunction(lambda: {"type": "view"})
    activity = factory.LazyFunction(dict)


QUIZ_ACTIVITY = {
    "questions": [
        {"text": "2 + 2 = ?", "choices": ["3", "4", "5"], "answer": 1},
        {"text": "Unit of resistance?", "choices": ["volt", "ohm"], "answer": 1},
    ]
}


class QuizStepFactory(StepFactory):
    step_type = StepType.QUIZ
    required_completion_criteria = factory.LazyFunction(lambda: {"type": "quiz", "min_score": 70})
    activity = factory.LazyFunction(lambda: {"questions": [dict(q) for q in QUIZ_ACTIVITY["questions"]]})


class LearningProgressFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LearningProgress

    user = factory.SubFactory(UserFactory)
    step = factory.SubFactory(StepFactory)


class LearningPathFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LearningPath

    user = factory.SubFactory(UserFactory)
    name = "My path"
    steps_sequence = factory.LazyFunction(list)


class ProgressFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Progress

    user = factory.SubFactory(UserFactory)
    progress_data = factory.LazyFunction(
        lambda: {"class": 12, "subject_progress": {"phy": {"completed_experiments": [], "completed_quizzes": []}}}
    )


class ProgressEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ProgressEvent

    user = factory.SubFactory(UserFactory)
    kind = "started"


def make_chapter(steps=5, **chapter_kwargs):
    """A chapter with ``steps`` view-criteria reading steps, ordered 1..steps."""
    chapter = ChapterFactory(**chapter_kwargs)
    for i in range(1, steps + 1):
        StepFactory(chapter=chapter, order_index=i, title=f"Step {i}")
    return chapter
