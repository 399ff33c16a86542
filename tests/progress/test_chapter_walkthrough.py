"""A learner walks through a whole OLabs-pattern chapter using only HTTP requests.

Theory (reading, 60 s) → Procedure (reading, 60 s) → Animation (video, opened)
→ Simulation (interactive, reported) → Quiz (70 % to pass). Time is moved on
by patching the engine's clock, as freezegun is not installed.
"""


import pytest
from django.urls import reverse

from curriculum.enums import StepType
from progress.enums import Status
from progress.models import LearningProgress
from tests.factories import ChapterFactory, StepFactory, SubjectFactory

pytestmark = pytest.mark.django_db



@pytest.fixture
def olabs_chapter():
    chapter = ChapterFactory(
        subject=SubjectFactory(code="phy", name="Physics"), title="Ohm's Law", external_id="olabs:phy/ohm",
    )
    theory = StepFactory(
        chapter=chapter, order_index=1, title="Theory", step_type=StepType.READING,
        content="# Ohm's law\n\nThe current through a conductor is proportional to the voltage: **V = IR**.",
        required_completion_criteria={"type": "time", "value": 60},
    )
    procedure = StepFactory(
        chapter=chapter, order_index=2, title="Procedure", step_type=StepType.READING,
        content="1. Connect the circuit.\n2. Vary the rheostat.\n3. Note V and I.",
        required_completion_criteria={"type": "time", "value": 60},
    )
    animation = StepFactory(
        chapter=chapter, order_index=3, title="Animation", step_type=StepType.VIDEO,
        activity={"video_url": "/static/media/ohm.mp4"}, required_completion_criteria={"type": "view"},
    )
    simulation = StepFactory(
        chapter=chapter, order_index=4, title="Simulation", step_type=StepType.INTERACTIVE,
        activity={"simulation_url": "https://sim.example.org/ohm/"}, required_completion_criteria={"type": "external"},
    )
    quiz = StepFactory(
        chapter=chapter, order_index=5, title="Quiz", step_type=StepType.QUIZ,
        required_completion_criteria={"type": "quiz", "min_score": 70},
        activity={"questions": [
            {"text": "V = ?", "choices": ["I/R", "IR", "R/I"], "answer": 1,
             "explanation": "Because V equals I times R."},
            {"text": "Unit of resistance?", "choices": ["volt", "ohm"], "answer": 1, "explanation": "After Ohm."},
        ]},
    )
    return chapter, [theory, procedure, animation, simulation, quiz]


def status_of(learner, step):
    row = LearningProgress.objects.filter(user=learner, step=step).first()
    return row.status if row else Status.NOT_STARTED


def beat(client, step, seconds):
    response = client.post(reverse("progress:step-heartbeat", args=[step.pk]), {"seconds": seconds})
    assert response.status_code == 200, response.content
    return response.json()


def test_learner_walks_through_a_whole_chapter(learner_client, learner, olabs_chapter, clock):
    client = learner_client
    chapter, (theory, procedure, animation, simulation, quiz) = olabs_chapter
    # The subject page lists the chapter, nothing done yet.
    html = client.get(chapter.subject.get_absolute_url()).content.decode()
    assert "Ohm&#x27;s Law" in html and "0 of 5 steps done" in html

    # The chapter page: only the first step is a link; the others say why not.
    html = client.get(chapter.get_absolute_url()).content.decode()
    assert theory.get_absolute_url() in html and procedure.get_absolute_url() not in html
    assert "Locked: finish &#x27;Theory&#x27; first" in html

    # A locked step cannot be opened yet.
    assert client.get(procedure.get_absolute_url()).status_code == 403

    # 1. Theory: 60 seconds of active time, sent as heartbeats.
    html = client.get(theory.get_absolute_url()).content.decode()
    assert "<h1>Ohm's law</h1>" in html and "<strong>V = IR</strong>" in html
    for expected in (15, 30, 45):
        clock.advance(15)
        data = beat(client, theory, 15)
        assert data["active_seconds"] == expected and data["needed"] == 60 and not data["completed"]
    assert data["reason"] == "not yet: 45 of 60 seconds"
    response = client.post(reverse("progress:step-complete", args=[theory.pk]))
    assert response.status_code == 409
    assert "Not yet: 45 of 60 seconds" in response.content.decode()
    clock.advance(15)
    data = beat(client, theory, 15)
    assert data["completed"] is True and data["percentage"] == 100
    html = client.get(theory.get_absolute_url()).content.decode()
    assert "data-done-block>" in html and f'href="{procedure.get_absolute_url()}">Next step' in html

    # 2. Procedure: a forged claim earns only the wall-clock time; honest beats finish it.
    clock.advance(5)
    client.get(procedure.get_absolute_url())
    clock.advance(15)
    assert beat(client, procedure, 10_000)["active_seconds"] == 15
    for _ in range(3):
        clock.advance(15)
        data = beat(client, procedure, 15)
    assert data["completed"] is True
    response = client.post(reverse("progress:step-complete", args=[procedure.pk]), follow=True)
    assert "Already completed" in response.content.decode()

    # 3. Animation: opening the video completes it.
    html = client.get(animation.get_absolute_url()).content.decode()
    assert 'src="/static/media/ohm.mp4"' in html
    assert status_of(learner, animation) == Status.COMPLETED

    # 4. Simulation: the learner (or step.js, for the simulation) reports it finished.
    html = client.get(simulation.get_absolute_url()).content.decode()
    assert 'sandbox="allow-scripts allow-same-origin"' in html
    assert status_of(learner, simulation) == Status.IN_PROGRESS
    response = client.post(reverse("progress:step-report", args=[simulation.pk]), follow=True)
    assert response.redirect_chain == [(simulation.get_absolute_url(), 302)]
    assert status_of(learner, simulation) == Status.COMPLETED

    # 5. Quiz: fail once, then pass.
    html = client.get(quiz.get_absolute_url()).content.decode()
    assert "Because V equals I times R." not in html  # no explanation (or answer) before answering
    response = client.post(reverse("progress:step-quiz", args=[quiz.pk]), {"q0": "0", "q1": "1"}, follow=True)
    html = response.content.decode()
    assert "Your score: 50%" in html and "Score 50 &lt; 70" in html and ">Retry</a>" in html
    assert "Because V equals I times R." in html
    assert status_of(learner, quiz) == Status.IN_PROGRESS
    response = client.post(reverse("progress:step-quiz", args=[quiz.pk]), {"q0": "1", "q1": "1"}, follow=True)
    html = response.content.decode()
    assert "Your score: 100%" in html and "Score 100 ≥ 70" in html
    assert status_of(learner, quiz) == Status.COMPLETED

    # All five done, the chapter and subject at 100 %.
    rows = LearningProgress.objects.filter(user=learner, step__chapter=chapter)
    assert sorted(rows.values_list("status", flat=True)) == [Status.COMPLETED] * 5
    assert set(rows.values_list("completion_percentage", flat=True)) == {100}
    html = client.get(chapter.get_absolute_url()).content.decode()
    assert "5 of 5 steps done" in html and "<strong>100%</strong>" in html
    assert "You have finished this chapter" in html
    html = client.get(chapter.subject.get_absolute_url()).content.decode()
    assert "5 of 5 steps done" in html and "Chapter complete" in html
