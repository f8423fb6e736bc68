"""Checkboxes and the signature tied to their labels: layouts a form uses, built word by word."""

from __future__ import annotations

import itertools

import numpy as np

from docserve.processing.field_labels import PageWord, checkbox_fields, signature_fields

H = 20.0  # word and box height, page pixels
_index = itertools.count()


def line(text: str, x: float, y: float, char_width: float = 10.0, gap: float = 8.0) -> list[PageWord]:
    """Words of ``text`` laid left to right from (x, y) like an OCR line."""
    words = []
    for token in text.split():
        width = char_width * len(token)
        words.append(PageWord(next(_index), token, (x, y, x + width, y + H), 0.95))
        x += width + gap
    return words


def boxes(*corners: tuple[float, float]) -> np.ndarray:
    return np.array([(x, y, x + H, y + H) for x, y in corners], dtype=np.float32)


def fields(words, found, checked):
    return checkbox_fields(words, found, np.array(checked), np.full(len(checked), 0.9, np.float32))


def test_a_row_of_options_after_its_question_is_one_pair():
    # "Marital status: [ ] single [x] married"
    words = line("Marital status:", 50, 100) + line("single", 240, 100) + line("married", 360, 100)
    found = boxes((210, 100), (330, 100))
    [field] = fields(words, found, [False, True])
    assert field.key.text == "Marital status:"
    assert [option.text for option in field.options] == ["single", "married"]
    assert field.value == "married"


def test_a_new_question_on_the_same_row_starts_another_pair():
    # "Sex: [x] M [ ] F   Smoker? [ ] yes [x] no"
    words = (line("Sex:", 50, 100) + line("M", 130, 100) + line("F", 200, 100)
             + line("Smoker?", 300, 100) + line("yes", 410, 100) + line("no", 490, 100))
    found = boxes((100, 100), (170, 100), (380, 100), (460, 100))
    sex, smoker = fields(words, found, [True, False, False, True])
    assert (sex.key.text, sex.value) == ("Sex:", "M")
    assert (smoker.key.text, smoker.value) == ("Smoker?", "no")


def test_a_column_of_options_under_a_heading_is_one_pair():
    words = (line("Preferred contact", 50, 100) + line("Phone", 90, 140)
             + line("E-mail", 90, 180) + line("Letter", 90, 220))
    found = boxes((60, 140), (60, 180), (60, 220))
    [field] = fields(words, found, [False, True, True])
    assert field.key.text == "Preferred contact"
    assert field.value == "E-mail, Letter"


def test_nothing_ticked_is_a_pair_with_no_value():
    words = line("Employed:", 50, 100) + line("yes", 180, 100) + line("no", 260, 100)
    found = boxes((150, 100), (230, 100))
    [field] = fields(words, found, [False, False])
    assert field.key.text == "Employed:" and field.value is None
    assert [option.checked for option in field.options] == [False, False]


def test_an_option_named_on_the_left_of_its_box():
    # "Yes [x]   No [ ]" with the question on the row above
    words = line("Do you own a car", 50, 60) + line("Yes", 50, 100) + line("No", 200, 100)
    found = boxes((100, 100), (240, 100))
    [field] = fields(words, found, [True, False])
    assert [option.text for option in field.options] == ["Yes", "No"]
    assert field.key.text == "Do you own a car" and field.value == "Yes"


def test_a_lone_box_is_named_by_its_own_text():
    words = line("I agree to the terms", 90, 300)
    found = boxes((60, 300))
    [field] = fields(words, found, [True])
    assert field.key.text == "I agree to the terms"
    assert field.value == "I agree to the terms"


def test_yes_no_rows_each_with_a_question_stay_separate():
    words = (line("Employed:", 50, 100) + line("yes", 190, 100)
             + line("Married:", 50, 140) + line("yes", 190, 140))
    found = boxes((160, 100), (160, 140))
    employed, married = fields(words, found, [True, False])
    assert (employed.key.text, employed.value) == ("Employed:", "yes")
    assert (married.key.text, married.value) == ("Married:", None)


def test_a_box_with_no_words_near_it_keeps_no_text():
    [field] = fields(line("far away", 600, 500), boxes((60, 100)), [True])
    assert field.key is None and field.options[0].text is None and field.value == ""


def test_the_signature_gets_the_label_under_it_and_the_date_beside():
    words = line("(Signature)", 60, 420) + line("Date:", 400, 420) + line("5/12/96", 470, 420)
    [field] = signature_fields(words, True, 0.93, (60, 360, 260, 410))
    assert field.key.text == "(Signature)" and field.present and field.confidence == 0.93
    assert field.date.text == "5/12/96"


def test_a_signature_label_with_no_signature_is_reported_empty():
    words = line("Signature of applicant:", 60, 420)
    [field] = signature_fields(words, False, 0.1, None)
    assert field.key.text == "Signature of applicant:" and not field.present
    assert abs(field.confidence - 0.9) < 1e-9 and field.date is None


def test_sign_inside_a_sentence_is_not_a_label():
    words = line("Please sign and return the form by the end of May", 60, 420)
    assert signature_fields(words, True, 0.9, (60, 360, 260, 410)) == []


def test_an_option_read_in_one_line_with_its_box_is_still_its_text():
    # OCR reads "[ ] Urgent" as one line: the word starts on the box
    box = boxes((376, 787))
    words = [PageWord(next(_index), "Urgent", (376, 787, 464, 811), 0.9)]
    [field] = fields(words, box, [True])
    assert field.options[0].text == "Urgent"


def test_handwriting_inside_the_signature_is_not_its_label():
    words = line("Ola", 165, 750) + line("Signature", 140, 770)
    [field] = signature_fields(words, True, 0.97, (160, 735, 340, 795))
    assert field.key.text == "Signature"


def test_a_date_read_in_one_word_with_its_label():
    words = line("Signature", 60, 420) + line("Date:06/01/2024", 400, 420)
    [field] = signature_fields(words, True, 0.99, (60, 360, 260, 410))
    assert field.date.text == "06/01/2024"
