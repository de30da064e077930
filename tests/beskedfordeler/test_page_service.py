"""What the Beskedfordeler's pages add to its service: a subscription's filter changed in
place (own mailbox and own value list only), the messages waiting in a mailbox, every
mailbox's depth, and the message types one can subscribe to; and the CSV file of CPR numbers
a value list is filled from."""

from __future__ import annotations

import pytest

from besked_samples import claim, envelope
from conftest import DEBITORSYSTEM, FAGSYSTEM_A, FAGSYSTEM_B
from indbetaling.besked import BESKEDTYPE_FORDRING_TIL_INDBETALING
from indbetaling.beskedfordeler import service
from indbetaling.beskedfordeler.domain import Filter
from indbetaling.beskedfordeler.service import Beskedfordeler, NotFound
from indbetaling.beskedfordeler.ui.cpr_file import (
    MAX_FILE_BYTES,
    MAX_REPORTED,
    UnreadableFile,
    read_cpr_file,
)

PERSON = "urn:oio:cpr-nr:0101800001"


def test_a_subscription_gets_a_new_filter_and_keeps_its_id(bf: Beskedfordeler) -> None:
    box = service.create_mailbox(bf, FAGSYSTEM_A).mailbox_id
    mine = service.create_value_list(bf, FAGSYSTEM_A, "Mine", [PERSON])
    sub = service.subscribe_own(bf, FAGSYSTEM_A, box, Filter(authority_cvr="12345678"))
    wanted = Filter(message_type=BESKEDTYPE_FORDRING_TIL_INDBETALING, value_list_id=mine)
    service.change_subscription(bf, FAGSYSTEM_A, box, sub.subscription_id, wanted)
    (changed,) = service.subscriptions_of(bf, FAGSYSTEM_A, box)
    assert changed.subscription_id == sub.subscription_id
    assert changed.filter == wanted


def test_another_subscribers_mailbox_list_or_subscription_changes_nothing(
    bf: Beskedfordeler,
) -> None:
    box = service.create_mailbox(bf, FAGSYSTEM_A).mailbox_id
    theirs = service.create_value_list(bf, FAGSYSTEM_B, "Deres", [PERSON])
    sub = service.subscribe_own(bf, FAGSYSTEM_A, box, Filter(authority_cvr="12345678"))
    with pytest.raises(NotFound):
        service.change_subscription(bf, FAGSYSTEM_B, box, sub.subscription_id, Filter())
    with pytest.raises(NotFound):
        service.change_subscription(
            bf, FAGSYSTEM_A, box, sub.subscription_id, Filter(value_list_id=theirs)
        )
    with pytest.raises(NotFound):
        service.change_subscription(bf, FAGSYSTEM_A, box, "ukendt", Filter())
    (unchanged,) = service.subscriptions_of(bf, FAGSYSTEM_A, box)
    assert unchanged.filter == Filter(authority_cvr="12345678")


def test_what_waits_in_a_mailbox_and_every_mailboxs_depth(bf: Beskedfordeler) -> None:
    box = service.create_mailbox(bf, FAGSYSTEM_A).mailbox_id
    empty = service.create_mailbox(bf, FAGSYSTEM_B).mailbox_id
    service.subscribe_own(bf, FAGSYSTEM_A, box, Filter(BESKEDTYPE_FORDRING_TIL_INDBETALING))
    besked_ids = [
        service.publish(bf, DEBITORSYSTEM, envelope(claim(PERSON))[1]).envelope.besked_id
        for _ in range(2)
    ]
    waiting = service.waiting_messages(bf, FAGSYSTEM_A, box)
    assert [w.besked_id for w in waiting] == besked_ids
    assert all(w.deliveries == 0 and w.size > 0 for w in waiting)
    service.pull(bf, FAGSYSTEM_A, box, 1)  # taken, not acked: still in the mailbox
    assert service.mailbox_depths(bf) == {box: 2}
    assert empty not in service.mailbox_depths(bf)
    assert {m.mailbox_id for m in service.all_mailboxes(bf)} == {box, empty}
    with pytest.raises(NotFound):
        service.waiting_messages(bf, FAGSYSTEM_B, box)


def test_the_message_types_to_subscribe_to_are_those_some_publisher_may_publish(
    bf: Beskedfordeler,
) -> None:
    assert service.message_types(bf) == [BESKEDTYPE_FORDRING_TIL_INDBETALING]


def test_a_cpr_file_gives_the_parties_each_once_skipping_a_heading_and_empty_lines() -> None:
    data = '\ufeffCPR-nummer;navn\n010180-0001;Ane\n\n0202800002\n"0101800001",igen\n'
    found = read_cpr_file(data.encode())
    assert found.values == [PERSON, "urn:oio:cpr-nr:0202800002"]
    assert found.lines == 3
    assert found.bad_lines == []


def test_a_cpr_files_bad_lines_are_reported_by_number_with_cpr_numbers_masked() -> None:
    data = "0101800001\nabc\n\n0101800001-7\n1234567890123\n"
    found = read_cpr_file(data.encode())
    assert [n for n, _ in found.bad_lines] == [2, 4, 5]
    assert "'abc' er ikke et CPR-nummer" in found.bad_lines[0][1]
    assert "0101800001" not in " ".join(found.problems)
    many = read_cpr_file(("1x\n" * (MAX_REPORTED + 5)).encode())
    assert len(many.problems) == MAX_REPORTED + 1
    assert many.problems[-1] == "… og 5 linje(r) mere med fejl"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "ingen CPR-numre"),
        (b"CPR-nummer\n\n", "ingen CPR-numre"),
        (b"\xff\xfe\x81", "ikke en tekstfil"),
        (b"0" * (MAX_FILE_BYTES + 1), "for stor"),
    ],
)
def test_a_cpr_file_that_cannot_be_used_says_why(data: bytes, reason: str) -> None:
    with pytest.raises(UnreadableFile, match=reason):
        read_cpr_file(data)
