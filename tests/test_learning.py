"""Learning from staff decisions: stored, learned at once, forgotten with the message."""

from __future__ import annotations

import datetime as dt
import json
import threading

from click.testing import CliRunner

from bot.cli import cli
from bot.matching import Learned, confidence
from bot.privacy import forget, purge_older_than
from bot.service import Core
from tests.mails import mail

STAFF = "terminal:alice"
# A request the base answers with no entry of its own: a garden association's compost bins.
GARDEN = ("Bonjour, notre association de quartier anime des ateliers de permaculture avec les habitants. "
          "Nous voudrions savoir s'il existe une aide pour acheter des composteurs et des outils.")


def take(core: Core, text: str, sender: str, subject: str = "Question") -> int:
    taken = core.take_mail(mail(text, subject=subject, sender=sender))
    assert taken.draft_id is not None
    return taken.draft_id


def learned_rows(core: Core) -> list[dict[str, object]]:
    return list(core.db.query("SELECT * FROM learned_examples ORDER BY id"))


def test_ignore_teaches_the_matcher_at_once(core: Core) -> None:
    text = ("Bonjour, nous proposons aux associations un outil en ligne pour organiser leurs tombolas et vendre "
            "leurs billets, avec une remise de lancement. Seriez-vous disponible pour une courte présentation ?")
    first = take(core, text, "Vente <vente@tombola.example>")
    core.review.ignore(first, STAFF)
    rows = learned_rows(core)
    assert [(r["slug"], r["decision"]) for r in rows] == [(None, "ignored")]
    assert rows[0]["vector"] is not None and rows[0]["model"] == core.matcher.embedder.name  # type: ignore[union-attr]
    again = core.matcher.match(text.replace("courte présentation", "démonstration"), "Offre tombola")
    assert again.slug is None


def test_another_entry_corrects_the_next_match(core: Core) -> None:
    before = core.matcher.match(GARDEN, "Composteurs")
    draft = take(core, GARDEN, "Jardin <jardin@quartier.example>", "Composteurs")
    core.review.choose(draft, STAFF, "fin-collectivites")
    assert learned_rows(core)[0]["slug"] == "fin-collectivites"
    core.review.approve(draft, STAFF)  # approving the chosen entry confirms it: still one label
    assert [(r["slug"], r["decision"]) for r in learned_rows(core)] == [("fin-collectivites", "confirmed")]
    assert core.matcher.settle(timeout=30)  # matched as the refitted classifier would, whatever the load
    after = core.matcher.match(GARDEN.replace("des outils", "du petit matériel"), "Composteurs")
    assert after.slug == "fin-collectivites" != before.slug


def test_requests_answered_with_an_entry_is_learned(core: Core) -> None:
    draft = take(core, GARDEN, "Jardin <jardin@quartier.example>")
    request_id = core.review.get(draft).request_id
    core.review.answered_by_hand(request_id, STAFF, slug="fin-recherche-financement")
    assert [(r["slug"], r["decision"]) for r in learned_rows(core)] == [("fin-recherche-financement", "corrected")]
    assert core.matcher.settle(timeout=30)
    assert core.matcher.match(GARDEN).slug == "fin-recherche-financement"


def test_learned_examples_survive_a_restart(core: Core) -> None:
    core.review.ignore(take(core, GARDEN, "Jardin <jardin@quartier.example>"), STAFF)
    restarted = Core.build(core.config)
    assert [x.slug for x in restarted.matcher.learned] == [None]
    assert restarted.matcher.match(GARDEN).slug is None


def test_retention_purge_erases_learned_examples_and_the_matcher_forgets(core: Core) -> None:
    draft = take(core, GARDEN, "Jardin <jardin@quartier.example>")
    core.review.choose(draft, STAFF, "fin-collectivites")
    assert core.matcher.settle(timeout=30)
    assert core.matcher.match(GARDEN).slug == "fin-collectivites"
    tomorrow = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).isoformat()
    assert purge_older_than(core.db, tomorrow) == 1
    assert learned_rows(core) == []
    assert core.learning is not None and core.learning.sync() == 1
    assert core.matcher.learned == ()
    assert core.matcher.match(GARDEN).slug != "fin-collectivites"  # at once, before the refit
    assert core.matcher.settle(timeout=30)
    assert core.matcher.match(GARDEN).slug != "fin-collectivites"


def test_oubli_erases_learned_examples(core: Core) -> None:
    core.review.ignore(take(core, GARDEN, "Jardin <jardin@quartier.example>"), STAFF)
    other = take(core, "Comment faire un service civique à l'étranger ?", "Léa <lea@example.org>")
    core.review.approve(other, STAFF)
    assert len(learned_rows(core)) == 2
    assert forget(core.db, "email", "jardin@quartier.example") == 1
    assert [r["slug"] for r in learned_rows(core)] == ["vol-service-civique"]
    assert core.learning is not None and core.learning.sync() == 1
    assert [x.slug for x in core.matcher.learned] == ["vol-service-civique"]


def test_learned_list_and_remove(config, secrets) -> None:  # type: ignore[no-untyped-def]
    core = Core.build(config)
    core.review.ignore(take(core, GARDEN, "Jardin <jardin@quartier.example>"), STAFF)
    runner = CliRunner()
    listed = runner.invoke(cli, ["--config", config.source, "learned", "list"])
    assert listed.exit_code == 0, listed.output
    assert "ignored" in listed.output and "hors base" in listed.output and "association de quartier" in listed.output
    example_id = learned_rows(core)[0]["id"]
    removed = runner.invoke(cli, ["--config", config.source, "learned", "remove", str(example_id)])
    assert removed.exit_code == 0 and "1 learned example(s) removed" in removed.output
    assert learned_rows(core) == []
    missing = runner.invoke(cli, ["--config", config.source, "learned", "remove", str(example_id)])
    assert missing.exit_code == 1


def test_match_jsonl_learn_learns_each_line_after_matching_it(config, secrets) -> None:  # type: ignore[no-untyped-def]
    lines = [{"id": 1, "text": GARDEN, "expected": "fin-collectivites"},
             {"id": 2, "text": GARDEN.replace("des outils", "des arrosoirs")}]
    stdin = "\n".join(json.dumps(line) for line in lines)
    plain = CliRunner().invoke(cli, ["--config", config.source, "match", "--jsonl"], input=stdin)
    learned = CliRunner().invoke(cli, ["--config", config.source, "match", "--jsonl", "--learn"], input=stdin)
    assert plain.exit_code == 0 and learned.exit_code == 0, learned.output
    plain_out = [json.loads(x) for x in plain.output.splitlines()]
    learned_out = [json.loads(x) for x in learned.output.splitlines()]
    assert plain_out[0] == learned_out[0]  # each line is matched before it is learned
    assert plain_out[1]["slug"] != "fin-collectivites" and learned_out[1]["slug"] == "fin-collectivites"
    assert learned_rows(Core.build(config)) == []  # replayed, not stored


def test_match_is_safe_while_learning_happens_on_another_thread(core: Core) -> None:
    errors: list[BaseException] = []
    stop = threading.Event()

    def matching() -> None:
        try:
            while not stop.is_set():
                assert core.matcher.match(GARDEN).candidates
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    workers = [threading.Thread(target=matching) for _ in range(2)]
    for worker in workers:
        worker.start()
    for number in range(20):
        core.matcher.learn(Learned("fin-collectivites" if number % 2 else None, f"{GARDEN} {number}", number))
    core.matcher.forget(range(10))
    stop.set()
    for worker in workers:
        worker.join()
    assert errors == []
    assert sorted(x.id for x in core.matcher.learned if x.id is not None) == list(range(10, 20))


def test_a_word_the_base_lacks_counts_once_two_labelled_messages_use_it(core: Core) -> None:
    # "Solicoop" is named by no entry: one labelled message is not enough to trust it, two are.
    question = "Qui peut nous renseigner sur solicoop pour notre projet ?"
    core.matcher.learn(Learned("fin-agences-eau", "Le dispositif Solicoop peut-il cofinancer des latrines au Togo ?"))
    assert core.matcher.match(question).slug is None
    core.matcher.learn(Learned("fin-agences-eau", "Solicoop finance-t-il aussi les forages ?"))
    assert core.matcher.settle(timeout=30)
    assert core.matcher.match(question).slug == "fin-agences-eau"


def test_dates_are_never_learned_words(core: Core) -> None:
    # Two requests to publish an October event do not make "octobre" (nor "samedi", nor "2026")
    # a word of the events calendar: the next mail naming October can be about anything.
    question = "Le forum du 17 octobre, samedi, c'est complet ?"
    agenda = "info-agenda-evenements"
    core.matcher.learn(Learned(agenda, "Notre soirée Mayotte en octobre, samedi 12, 2026 : annonce ?"))
    core.matcher.learn(Learned(agenda, "Pouvez-vous annoncer le marché de Mayotte du samedi 3 octobre 2026 ?"))
    assert core.matcher.settle(timeout=30)
    found = confidence.FEATURES.index("learned_words_found")
    assert core.matcher.evidence(question).features[:, found].max() == 0.0
    assert core.matcher.evidence("Et Mayotte, vous l'annoncez ?").features[:, found].max() > 0.0


def test_a_scheme_named_with_known_words_is_learned_however_it_is_written(core: Core) -> None:
    # "Porte-Monde": two words the base knows, never side by side in it. Two labelled messages
    # teach the pair; the next requester writes it as one word.
    question = "portemonde c'est ouvert aux nouvelles assos ?"
    before = core.matcher.match(question)
    core.matcher.learn(Learned("fin-collectivites", "Le fonds Porte-Monde du département peut-il aider notre asso ?"))
    core.matcher.learn(Learned("fin-collectivites", "porte monde c'est jusqu'a quel montant ?"))
    assert core.matcher.settle(timeout=30)
    after = core.matcher.match(question)
    assert before.slug != "fin-collectivites" and after.slug == "fin-collectivites", (before, after)


# A situation the base words well but does not draft from the right entry: an association of people
# from one country wanting to help their home village (funding search, where the diaspora's scheme is).
# The base abstains on it until staff have chosen the right entry a few times, in other words each time.
DIASPORA = [
    ("Bonjour, nous sommes une association de Maliens de Vénissieux et voulons agrandir le dispensaire de "
     "notre village, à qui demander de l'aide ?"),
    ("bonjour, asso de burkinabè à saint-étienne, on veut refaire le toit de l'école du village, des aides "
     "existent pour nous ?"),
    ("Bonjour, je suis trésorier d'une association de Guinéens de Grenoble. Nous voulons équiper la maternité "
     "de notre commune d'origine : quels soutiens ?"),
    "salut, on est une asso de camerounais a lyon, on voudrait aider l'ecole du village, qui donne des sous ?",
]
DIASPORA_NEXT = "asso de la diaspora togolaise, on cherche des sous pour reconstruire l'ecole de notre village"


def test_a_recurring_situation_in_known_words_is_learned_after_a_few_decisions(core: Core) -> None:
    before = core.matcher.match(DIASPORA_NEXT)
    for number, text in enumerate(DIASPORA):
        core.matcher.learn(Learned("fin-recherche-financement", text, number))
    assert core.matcher.settle(timeout=30)
    after = core.matcher.match(DIASPORA_NEXT)
    assert before.slug != "fin-recherche-financement" and after.slug == "fin-recherche-financement", (before, after)


def test_decisions_erased_by_oubli_stop_counting(core: Core) -> None:
    before = core.matcher.match(DIASPORA_NEXT)
    for number, text in enumerate(DIASPORA):
        draft = take(core, text, f"Asso {number} <tresorier{number}@asso.example>")
        core.review.choose(draft, STAFF, "fin-recherche-financement")
    assert core.matcher.settle(timeout=30)
    # Learned through the review (e-mails with a subject), the situation is drafted; erased, it is not.
    assert before.slug is None and core.matcher.match(DIASPORA_NEXT).slug == "fin-recherche-financement"
    for number in range(len(DIASPORA)):
        assert forget(core.db, "email", f"tresorier{number}@asso.example") == 1
    assert core.learning is not None and core.learning.sync() == len(DIASPORA)
    # At once, before any refit: the classifier is the curated one again.
    assert core.matcher.match(DIASPORA_NEXT) == before
    assert core.matcher.settle(timeout=30)
    assert core.matcher.match(DIASPORA_NEXT) == before


def test_words_learned_follow_an_edited_base(core: Core) -> None:
    # A word staff taught is learned only while no curated text has it: once an entry is edited to
    # carry it (the web desk's editor), it is the entry's, and the labelled messages' words are read
    # again against the new base.
    from dataclasses import replace

    core.matcher.learn(Learned("fin-collectivites", "Le dispositif Lanternevertex du département aide-t-il ?"))
    core.matcher.learn(Learned("fin-collectivites", "lanternevertex c'est pour quels projets ?"))
    assert "lanternevertex" in core.matcher._state.learned_words
    core.matcher.set_entries([replace(e, keywords=(*e.keywords, "Lanternevertex")) if e.slug == "fin-festisol" else e
                              for e in core.matcher.entries])
    assert "lanternevertex" not in core.matcher._state.learned_words


def classifier_says(core: Core, text: str, key: str) -> float:
    """The classifier's log-probability of ``key`` for ``text`` (after any pending refit)."""
    assert core.matcher.settle(timeout=30)
    evidence = core.matcher.evidence(text)
    return float(evidence.features[evidence.keys.index(key), confidence.FEATURES.index("classifier")])


# A student's request for an interview: what "Ignorer" is often about.
INTERVIEWS = [
    "Bonjour, étudiante en licence de géographie, je fais un dossier sur les ONG de la région : "
    "pourriez-vous m'accorder vingt minutes au téléphone pour répondre à mes questions ?",
    "Bonjour, je suis en BTS communication et je dois interviewer une structure associative. "
    "Une personne de votre équipe accepterait-elle un échange en visio la semaine prochaine ?",
]
NEXT_INTERVIEW = ("Bonjour, élève en master de science politique, j'écris un mémoire sur la solidarité "
                  "internationale. Serait-il possible de rencontrer une chargée de mission pour un entretien ?")


def test_messages_marked_ignorer_teach_the_out_of_scope_family_they_resemble(core: Core) -> None:
    # Left out of the refit, they let every in-scope decision pull look-alikes toward a draft.
    before = classifier_says(core, NEXT_INTERVIEW, "~enquete-etudiant-presse")
    for number, text in enumerate(INTERVIEWS):
        core.matcher.learn(Learned(None, text, number))
    assert classifier_says(core, NEXT_INTERVIEW, "~enquete-etudiant-presse") > before


def test_one_labelled_message_leaves_the_classifier_as_curated(core: Core) -> None:
    # One message moved the classifier enough to draft its neighbours' questions; two of a kind count.
    before = classifier_says(core, DIASPORA_NEXT, "fin-recherche-financement")
    core.matcher.learn(Learned("fin-recherche-financement", DIASPORA[0], 1))
    assert classifier_says(core, DIASPORA_NEXT, "fin-recherche-financement") == before
    core.matcher.learn(Learned("fin-recherche-financement", DIASPORA[1], 2))
    assert classifier_says(core, DIASPORA_NEXT, "fin-recherche-financement") > before
