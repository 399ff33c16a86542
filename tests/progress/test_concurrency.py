"""Parallel writes to the same step from real threads, each with its own connection.

Runs against whatever DATABASE_URL names: the file SQLite test database (WAL +
IMMEDIATE transactions) or PostgreSQL. Every run must end with one row, one
completion event, no lost keys in progress_data and no "database is locked".
"""

import threading

from django.db import connection
from django.test import TransactionTestCase

from progress import engine
from progress.enums import EventKind, Status
from progress.models import LearningProgress, ProgressEvent
from tests.factories import QuizStepFactory, StepFactory, TeacherFactory, UserFactory, make_chapter

THREADS = 8


def run_in_parallel(*calls):
    """Start every call at the same moment (a barrier); return results and any exceptions."""
    barrier = threading.Barrier(len(calls))
    results, errors = [], []
    lock = threading.Lock()

    def worker(call):
        try:
            barrier.wait(timeout=10)
            outcome = call()
            with lock:
                results.append(outcome)
        except Exception as exc:  # collected and asserted on below
            with lock:
                errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results, errors


class ParallelStepWritesTests(TransactionTestCase):
    def setUp(self):
        self.learner = UserFactory(grade=12)
        self.chapter = make_chapter(steps=0)

    def completion_events(self, step):
        return ProgressEvent.objects.filter(user=self.learner, step=step, kind=EventKind.COMPLETED).count()

    def test_parallel_mark_done_leaves_one_row_and_one_completion(self):
        step = StepFactory(chapter=self.chapter, order_index=1, required_completion_criteria={"type": "manual"})
        engine.open_step(learner=self.learner, step=step)

        results, errors = run_in_parallel(
            *[lambda: engine.mark_done(learner=self.learner, step=step) for _ in range(THREADS)]
        )

        self.assertEqual(errors, [])
        self.assertEqual(sum(r.completed for r in results), 1)
        self.assertEqual(LearningProgress.objects.filter(user=self.learner, step=step).count(), 1)
        self.assertEqual(self.completion_events(step), 1)
        row = LearningProgress.objects.get(user=self.learner, step=step)
        self.assertEqual(row.status, Status.COMPLETED)
        self.assertEqual(row.progress_data["criteria"], {"type": "manual"})

    def test_parallel_quiz_submissions_keep_every_attempt_and_complete_once(self):
        step = QuizStepFactory(chapter=self.chapter, order_index=1)
        passing = {"0": 1, "1": 1}

        results, errors = run_in_parallel(
            *[lambda: engine.submit_quiz(learner=self.learner, step=step, answers=passing) for _ in range(THREADS)]
        )

        self.assertEqual(errors, [])
        self.assertTrue(all(r.ok for r in results))
        rows = LearningProgress.objects.filter(user=self.learner, step=step)
        self.assertEqual(rows.count(), 1)
        data = rows.get().progress_data
        self.assertEqual(len(data["attempts"]), THREADS, "an attempt was lost to a race")
        self.assertEqual(data["best_score"], 100)
        self.assertEqual(self.completion_events(step), 1)
        self.assertEqual(
            ProgressEvent.objects.filter(user=self.learner, step=step, kind=EventKind.STARTED).count(), 1
        )

    def test_parallel_mixed_writers_lose_no_progress_data_keys(self):
        step = QuizStepFactory(chapter=self.chapter, order_index=1)
        failing = {"0": 0, "1": 0}
        calls = [lambda: engine.submit_quiz(learner=self.learner, step=step, answers=failing) for _ in range(4)]
        calls += [lambda: engine.report_external(learner=self.learner, step=step, completed=False, score=40)
                  for _ in range(4)]

        results, errors = run_in_parallel(*calls)

        self.assertEqual(errors, [])
        data = LearningProgress.objects.get(user=self.learner, step=step).progress_data
        self.assertEqual(len(data["attempts"]), 4)
        self.assertEqual(len(data["external_reports"]), 4)
        self.assertEqual(data["best_score"], 40)
        self.assertIn("criteria", data)
        self.assertEqual(self.completion_events(step), 0)

    def test_one_learners_parallel_writes_of_every_kind_never_deadlock(self):
        """Every write locks its progress row first and the learner's profile last (the progress version):
        opens, heartbeats, completions and a teacher's action on two steps at once all finish."""
        first = StepFactory(chapter=self.chapter, order_index=1, required_completion_criteria={"type": "manual"})
        second = StepFactory(chapter=self.chapter, order_index=2, required_completion_criteria={"type": "time",
                                                                                                "value": 600})
        engine.open_step(learner=self.learner, step=first)
        engine.mark_done(learner=self.learner, step=first)
        teacher = TeacherFactory()
        calls = [lambda: engine.open_step(learner=self.learner, step=second) for _ in range(3)]
        calls += [lambda: engine.record_active_time(learner=self.learner, step=second, seconds=5) for _ in range(3)]
        calls += [lambda: engine.open_step(learner=self.learner, step=first) for _ in range(2)]
        calls += [lambda: engine.skip_step(learner=self.learner, step=second, actor=teacher, reason="absent")]
        calls += [lambda: engine.reset(learner=self.learner, step=first, actor=teacher, reason="redo")]

        results, errors = run_in_parallel(*calls)

        self.assertEqual(errors, [])
        self.assertEqual(len(results), len(calls))
        self.assertEqual(LearningProgress.objects.filter(user=self.learner).count(), 2)

    def test_parallel_opens_and_teacher_overrides_leave_one_row(self):
        step = StepFactory(chapter=self.chapter, order_index=1, required_completion_criteria={"type": "manual"})
        teacher = TeacherFactory()
        calls = [lambda: engine.open_step(learner=self.learner, step=step) for _ in range(4)]
        calls += [lambda: engine.force_complete(learner=self.learner, step=step, actor=teacher, reason="present in lab")
                  for _ in range(4)]

        results, errors = run_in_parallel(*calls)

        self.assertEqual(errors, [])
        self.assertEqual(LearningProgress.objects.filter(user=self.learner, step=step).count(), 1)
        self.assertEqual(
            ProgressEvent.objects.filter(user=self.learner, step=step, kind=EventKind.OVERRIDE).count(), 1
        )
        self.assertLessEqual(
            ProgressEvent.objects.filter(user=self.learner, step=step, kind=EventKind.STARTED).count(), 1
        )
