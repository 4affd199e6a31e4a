from __future__ import annotations

import pytest

from bookings.models import Client
from tests.factories import ClientFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("rows", [1, 200])
def test_client_list_has_a_constant_query_count(
    rows, company, dispatcher_client, django_assert_max_num_queries
):
    ClientFactory.create_batch(rows, company=company)
    with django_assert_max_num_queries(2):  # count, clients
        response = dispatcher_client.get("/api/clients?page_size=500")
    assert response.json()["count"] == rows


def test_search_by_name_and_phone(company, dispatcher_client):
    anne = ClientFactory(company=company, first_name="Anne", last_name="Favre", phone="+41 21 111")
    ClientFactory(company=company, first_name="Marc", last_name="Rochat", phone="+41 22 222")
    by_name = dispatcher_client.get("/api/clients?search=favre").json()["results"]
    by_phone = dispatcher_client.get("/api/clients?search=21 111").json()["results"]
    assert [c["id"] for c in by_name] == [str(anne.id)]
    assert [c["id"] for c in by_phone] == [str(anne.id)]


def test_create_client_validates_coordinates(company, dispatcher_client):
    bad = {"first_name": "A", "last_name": "B", "lat": 100, "lon": 6}
    response = dispatcher_client.post("/api/clients", bad, format="json")
    assert response.status_code == 400 and "lat" in response.json()
    good = {"first_name": "A", "last_name": "B", "lat": 46.5, "lon": 6.6, "mobility": "wheelchair"}
    response = dispatcher_client.post("/api/clients", good, format="json")
    assert response.status_code == 201
    assert Client.objects.get(id=response.json()["id"]).company == company


def test_clients_are_company_scoped(other_company, dispatcher_client, driver_client):
    foreign = ClientFactory(company=other_company)
    assert dispatcher_client.get("/api/clients").json()["count"] == 0
    assert dispatcher_client.get(f"/api/clients/{foreign.id}").status_code == 404
    response = dispatcher_client.patch(f"/api/clients/{foreign.id}", {"notes": "x"}, format="json")
    assert response.status_code == 404
    assert driver_client.get("/api/clients").status_code == 403
