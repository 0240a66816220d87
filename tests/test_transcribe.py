"""Which Whisper transcripts the transcribe tool keeps (no model needed)."""

from edgevc.export.transcribe import decide, summary


def words(text):
    return text.lower().replace(".", "").split()


def heard(text, logprob=-0.2, no_speech=0.01):
    return {"text": text, "avg_logprob": logprob, "no_speech_prob": no_speech}


def test_confident_transcripts_are_kept_and_unsure_ones_dropped():
    keep = decide(heard(" Hello there."), None, words, None, -0.5, 0.3)
    assert keep == ("Hello there.", None, None)
    assert "log-probability" in decide(heard("Hello", -0.9), None, words, None, -0.5, 0.3)[1]
    assert "no-speech" in decide(heard("Hello", -0.1, 0.8), None, words, None, -0.5, 0.3)[1]
    assert decide(heard("  "), None, words, None, -0.5, 0.3)[1] == "nothing heard"


def test_agreement_keeps_the_given_text_only_when_whisper_heard_about_it():
    text, why, wer = decide(heard("we call it a bear"), "WE CALL IT BEAR", words, 0.3, -0.5, 0.3)
    assert (text, why) == ("WE CALL IT BEAR", None) and abs(wer - 0.25) < 1e-9
    text, why, wer = decide(heard("i made the apple"), "i made up my mind", words, 0.3, -0.5, 0.3)
    assert text is None and "disagrees" in why and wer > 0.3
    assert decide(heard("hi"), None, words, 0.3, -0.5, 0.3)[1] == "no given text to agree with"


def test_summary_reports_the_error_the_filter_lets_through():
    recs = [{"speaker": "a", "kept": True, "wer_vs_given": 0.0},
            {"speaker": "a", "kept": True, "wer_vs_given": 0.2},
            {"speaker": "b", "kept": False, "wer_vs_given": 0.8}]
    s = summary(recs)
    assert s["kept"] == 2 and s["speakers_kept"] == 1
    assert s["mean_wer_vs_given_kept"] == 0.1 and s["mean_wer_vs_given_all"] == round(1.0 / 3, 4)
