"""bench/run.py's completion POSTs: each one completes the learner's next step, in the order the run sends them."""

import pytest

from bench.make_dataset import build_dataset, main
from bench.run import completion_chains, completion_request, open_steps
from curriculum.models import LearningStep
from learners.models import User
from progress.enums import EventKind, Status
from progress.models import LearningProgress, ProgressEvent


@pytest.fixture
def dataset(db):
    return build_dataset(learners=12, subjects=2, chapters=3, steps=5, seed=3, tune=False, out=lambda _line: None)


def test_each_prepared_post_completes_a_step(dataset, client):
    learners = list(User.objects.filter(is_staff=False).order_by("pk"))
    chains = completion_chains([u.pk for u in learners])
    assert chains, "the dataset leaves learners with steps one POST completes"
    posted = 0
    for learner in learners:
        client.force_login(learner)
        for chain in chains.get(learner.pk, []):
            for post in chain:
                before = ProgressEvent.objects.filter(user=learner, kind=EventKind.COMPLETED).count()
                response = client.post(post.path, data=post.body, content_type="application/x-www-form-urlencoded")
                assert response.status_code == 302, (post.path, response.status_code)
                assert ProgressEvent.objects.filter(user=learner, kind=EventKind.COMPLETED).count() == before + 1
                posted += 1
    assert posted >= len(chains)


def test_open_steps_opens_what_the_page_would_have_and_leaves_out_locked_steps(dataset, client):
    learners = list(User.objects.filter(is_staff=False).order_by("pk"))
    # A first run completes each learner's next steps, so the steps after them were never opened.
    for learner in learners:
        client.force_login(learner)
        for chain in completion_chains([learner.pk]).get(learner.pk, []):
            client.post(chain[0].path, data=chain[0].body, content_type="application/x-www-form-urlencoded")
    chains = completion_chains([u.pk for u in learners])
    # Every learner's whole chain: the first step of each may be posted; the later ones are locked.
    pairs = [(pk, post.step) for pk, cs in chains.items() for chain in cs for post in chain]
    firsts = {(pk, chain[0].step.pk) for pk, cs in chains.items() for chain in cs}
    had_row = set(LearningProgress.objects.values_list("user_id", "step_id"))
    assert firsts - had_row, "the dataset leaves some next steps unopened (subjects not started)"

    refused = open_steps(pairs)

    assert refused == {(pk, step.pk) for pk, step in pairs} - firsts
    rows = {(r.user_id, r.step_id): r for r in LearningProgress.objects.all()}
    for key in firsts:
        assert rows[key].status == Status.IN_PROGRESS, key
    # Nothing else was written: a refused open leaves no row.
    assert set(rows) == had_row | firsts
    # Already opened steps are left as they were: opening again changes nothing.
    assert open_steps([(pk, step) for pk, step in pairs if (pk, step.pk) in firsts]) == set()
    assert LearningProgress.objects.count() == len(rows)


def test_only_steps_one_post_completes_get_a_request():
    kinds = {"external": "/report", "submission": "/answer", "quiz": "/quiz"}
    for kind, suffix in kinds.items():
        activity = {"questions": [{"text": "?", "choices": ["a", "b"], "answer": 1}]} if kind == "quiz" else {}
        step = LearningStep(required_completion_criteria={"type": kind, "min_score": 70}, activity=activity)
        path, body = completion_request(step)
        assert path.endswith(suffix)
        if kind == "quiz":
            assert body == "q0=1"
    for kind in ("time", "view", "manual"):
        assert completion_request(LearningStep(required_completion_criteria={"type": kind, "value": 60})) is None


@pytest.mark.parametrize("argument", ["--learners", "--subjects", "--chapters", "--steps"])
def test_make_dataset_refuses_nonsense_before_touching_a_database(argument, tmp_path, capsys):
    target = tmp_path / "never.sqlite3"
    with pytest.raises(SystemExit) as exit_info:
        main([argument, "0", "--database-url", f"sqlite:///{target}"])
    assert exit_info.value.code == 2
    assert f"{argument} must be at least 1" in capsys.readouterr().err
    assert not target.exists()
