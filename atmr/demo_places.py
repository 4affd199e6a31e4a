"""Real places around Lausanne–Geneva for the demo data (approximate WGS84 coordinates)."""

from __future__ import annotations

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

# Destinations: hospitals, dialysis and therapy centres (name, lat, lon).
DESTINATIONS: list[tuple[str, float, float]] = [
    ("CHUV, Rue du Bugnon 46, Lausanne", 46.5254, 6.6423),
    ("Hôpital de Morges, Chemin du Crêt 2, Morges", 46.5141, 6.4915),
    ("GHOL Hôpital de Nyon, Chemin Monastier 10, Nyon", 46.3876, 6.2320),
    ("HUG, Rue Gabrielle-Perret-Gentil 4, Genève", 46.1932, 6.1490),
    ("Hôpital de la Tour, Avenue J.-D. Maillard 3, Meyrin", 46.2330, 6.0720),
    ("Centre de dialyse, Avenue de Beaulieu 2, Lausanne", 46.5270, 6.6220),
    ("Clinique de La Source, Avenue Vinet 30, Lausanne", 46.5255, 6.6260),
    ("Hôpital Riviera-Chablais, Route du Vieux-Séquoia 20, Rennaz", 46.3780, 6.9230),
    ("Centre de physiothérapie, Rue de Lausanne 12, Rolle", 46.4600, 6.3400),
    ("Clinique Générale-Beaulieu, Chemin Beau-Soleil 20, Genève", 46.2000, 6.1620),
]

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
