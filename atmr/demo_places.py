"""Real places around Lausanne–Geneva for the demo data (approximate WGS84 coordinates)."""

from __future__ import annotations

from dataclasses import dataclass

# (town, lat, lon): client homes are scattered around these centres.
TOWNS: list[tuple[str, float, float]] = [
    ("Lausanne", 46.5197, 6.6323),
    ("Pully", 46.5103, 6.6616),
    ("Renens", 46.5390, 6.5881),
    ("Prilly", 46.5365, 6.6040),
    ("Ecublens", 46.5285, 6.5610),
    ("Morges", 46.5113, 6.4985),
    ("Rolle", 46.4584, 6.3372),
    ("Gland", 46.4208, 6.2705),
    ("Nyon", 46.3833, 6.2396),
    ("Coppet", 46.3150, 6.1911),
    ("Versoix", 46.2838, 6.1624),
    ("Genève", 46.2044, 6.1432),
    ("Carouge", 46.1817, 6.1395),
    ("Meyrin", 46.2343, 6.0800),
    ("Vevey", 46.4628, 6.8419),
    ("Montreux", 46.4312, 6.9107),
]

STREETS = [
    "Rue du Lac",
    "Avenue de la Gare",
    "Chemin des Vignes",
    "Route de Genève",
    "Rue du Marché",
    "Avenue des Alpes",
    "Chemin du Bois",
    "Rue de la Poste",
    "Avenue du Léman",
    "Chemin des Fleurs",
]


@dataclass(frozen=True)
class DemoPlace:
    """A real care place of the region, seeded as a global `places.Place`."""

    name: str
    kind: str  # places.models.Place.Kind
    address: str
    lat: float
    lon: float
    aliases: tuple[str, ...] = ()
    extra_service_minutes: int = 0
    entrance_notes: str = ""

    @property
    def destination(self) -> str:
        """The drop-off address the demo's trips carry: "name, address"."""
        return f"{self.name}, {self.address}"


# Hospitals, clinics, dialysis and therapy centres the demo's trips go to (approximate WGS84).
PLACES: list[DemoPlace] = [
    DemoPlace(
        "CHUV",
        "hospital",
        "Rue du Bugnon 46, Lausanne",
        46.5254,
        6.6423,
        ("Centre hospitalier universitaire vaudois",),
        extra_service_minutes=5,
        entrance_notes="Large site: allow time to reach the ward from the main entrance.",
    ),
    DemoPlace(
        "Hôpital de Morges",
        "hospital",
        "Chemin du Crêt 2, Morges",
        46.5141,
        6.4915,
        ("EHC Morges", "Ensemble Hospitalier de la Côte"),
    ),
    DemoPlace(
        "GHOL Hôpital de Nyon",
        "hospital",
        "Chemin Monastier 10, Nyon",
        46.3876,
        6.2320,
        ("GHOL", "Groupement Hospitalier de l'Ouest Lémanique"),
    ),
    DemoPlace(
        "HUG",
        "hospital",
        "Rue Gabrielle-Perret-Gentil 4, Genève",
        46.1932,
        6.1490,
        (
            "Hôpitaux universitaires de Genève",
            "Hôpital cantonal de Genève",
            "Hôpital cantonal universitaire de Genève",
        ),
        extra_service_minutes=5,
        entrance_notes="Large site: allow time to reach the ward from the main entrance.",
    ),
    DemoPlace(
        "Hôpital de la Tour",
        "hospital",
        "Avenue J.-D. Maillard 3, Meyrin",
        46.2330,
        6.0720,
        ("La Tour Meyrin",),
    ),
    DemoPlace(
        "Centre de dialyse",
        "dialysis",
        "Avenue de Beaulieu 2, Lausanne",
        46.5270,
        6.6220,
        ("Dialyse Beaulieu",),
    ),
    DemoPlace(
        "Clinique de La Source",
        "clinic",
        "Avenue Vinet 30, Lausanne",
        46.5255,
        6.6260,
        ("La Source",),
    ),
    DemoPlace(
        "Hôpital Riviera-Chablais",
        "hospital",
        "Route du Vieux-Séquoia 20, Rennaz",
        46.3780,
        6.9230,
        ("HRC", "Hôpital de Rennaz"),
    ),
    DemoPlace(
        "Centre de physiothérapie",
        "practice",
        "Rue de Lausanne 12, Rolle",
        46.4600,
        6.3400,
        ("Physio Rolle",),
    ),
    DemoPlace(
        "Clinique Générale-Beaulieu",
        "clinic",
        "Chemin Beau-Soleil 20, Genève",
        46.2000,
        6.1620,
        ("Générale-Beaulieu",),
    ),
]

# Destinations as (drop-off address, lat, lon): the trips' generator reads these.
DESTINATIONS: list[tuple[str, float, float]] = [(p.destination, p.lat, p.lon) for p in PLACES]

FIRST_NAMES = [
    "Anne",
    "Marc",
    "Sophie",
    "Luc",
    "Claire",
    "Pierre",
    "Julie",
    "Nicolas",
    "Marie",
    "Jean",
    "Laura",
    "Thomas",
    "Camille",
    "David",
    "Sarah",
    "Olivier",
    "Elise",
    "Daniel",
    "Nadia",
    "Paul",
]
LAST_NAMES = [
    "Favre",
    "Rochat",
    "Blanc",
    "Bonvin",
    "Perret",
    "Morel",
    "Girard",
    "Rey",
    "Chappuis",
    "Jaquet",
    "Dubois",
    "Mercier",
    "Meylan",
    "Cuendet",
    "Pasche",
    "Golay",
    "Berset",
    "Vuilleumier",
    "Roulet",
    "Monnier",
]
