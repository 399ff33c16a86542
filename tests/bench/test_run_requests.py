"""bench/run.py's completion POSTs: each one completes the learner's next step, in the order the run sends them."""

import pytest

from bench.make_dataset import build_dataset, main
from bench.run import completion_chains, completion_request
from curriculum.models import LearningStep
from learners.models import User
from progress.enums import EventKind
from progress.models import ProgressEvent


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
            for path, body in chain:
                before = ProgressEvent.objects.filter(user=learner, kind=EventKind.COMPLETED).count()
                response = client.post(path, data=body, content_type="application/x-www-form-urlencoded")
                assert response.status_code == 302, (path, response.status_code)
                assert ProgressEvent.objects.filter(user=learner, kind=EventKind.COMPLETED).count() == before + 1
                posted += 1
    assert posted >= len(chains)


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
