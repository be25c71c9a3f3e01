"""Whether a message asks anything (requests do, announcements do not), and what a long one asks."""

from __future__ import annotations

import pytest

from bot.matching.asks import asking, asks


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


PRESENTATION = ("Notre association, fondée il y a douze ans à Montbrison, réunit une trentaine de bénévoles "
                "autour d'un partenariat avec un groupement de potières de la région de Ségou, au Mali. "
                "Nous organisons chaque année une vente d'artisanat et une soirée de concerts pour financer "
                "des fours et des formations à la gestion. ")


def test_a_long_mail_gives_what_it_asks_past_its_start() -> None:
    text = (PRESENTATION + "Le bureau a changé en juin. Pourriez-vous mettre à jour notre fiche dans votre "
            "annuaire des acteurs ? La nouvelle présidente est Mme Odile Vernet. Bien cordialement.")
    assert len(PRESENTATION) > 300
    assert asking("Mise à jour de notre fiche", text, 300, 300) == (
        "Mise à jour de notre fiche\nPourriez-vous mettre à jour notre fiche dans votre annuaire des acteurs ?")


@pytest.mark.parametrize(("subject", "text"), [
    ("Question", "Comment adhérer au réseau ?"),  # short: the start says it all
    # Asks nothing past the start.
    ("Notre projet", PRESENTATION + "Le bureau a changé en juin. La présidente est Mme Odile Vernet."),
])
def test_nothing_more_to_read(subject: str, text: str) -> None:
    assert asking(subject, text, 300, 300) == ""


def test_what_is_asked_is_cut_to_the_limit() -> None:
    text = PRESENTATION + " ".join(f"Pouvez-vous nous dire où trouver le document numéro {n} ?" for n in range(20))
    assert len(asking("", text, 300, 120)) == 120
