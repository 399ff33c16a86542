from django.urls import reverse


def test_home_redirects_anonymous_to_login(client, db):
    response = client.get(reverse("progress:home"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_login_then_home_greets_learner(client, learner, password):
    response = client.post(reverse("login"), {"username": "asha", "password": password}, follow=True)
    assert response.status_code == 200
    assert "Welcome, Asha" in response.content.decode()
