"""Whether a message asks anything: requests do, announcements do not."""

from __future__ import annotations

import pytest

from bot.matching.asks import asks


@pytest.mark.parametrize("text", [
    "Bonjour, comment adhérer au réseau",
    "je veux plus recevoir vos mails",
    "Notre comité souhaiterait rencontrer un chargé de mission pour parler de notre partenariat avec Kayes.",
    "Conformément au RGPD, je vous demande de supprimer mes données.",
    "Merci de me retirer de votre liste.",
    "We are looking for a partner network in Lyon for our exchange.",
    "Quisiera información sobre el voluntariado en Perú",
    "Vorrei fare un tirocinio in una ONG a Grenoble",
])
def test_a_request_asks(text: str) -> None:
    assert asks(text)


@pytest.mark.parametrize("text", [
    "LA LETTRE DU COLLECTIF n° 12 — Édito : un hiver solidaire. Au sommaire : notre soirée du 3 mars à Vienne, "
    "l'exposition « Terres d'Afrique » à la médiathèque, l'appel à bénévoles pour la brocante.",
    "Je suis en congés jusqu'au 4 janvier ; pour toute urgence, écrire à accueil@asso.example.",
    "Le réseau des ONG de Ligurie vous invite à son colloque « Méditerranée solidaire », Gênes, 12 mai, 9 h 30.",
    "----- Message transféré ----- L'appel à projets jeunesse 2027 de la Région Bretagne est ouvert jusqu'au 15 avril.",
])
def test_an_announcement_asks_nothing(text: str) -> None:
    assert not asks(text)
