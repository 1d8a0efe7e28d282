"""Profiles: selection from the environment, auto-detection, per-lab settings."""

import pytest

from lablib.profiles import PROFILES, LabConfig, ProfileError, profile_name, select


def test_env_var_wins_and_is_case_insensitive():
    assert profile_name({"LABLIB_PROFILE": "Quick"}, gpu=True) == ("quick", "LABLIB_PROFILE")


@pytest.mark.parametrize("gpu, expected", [(True, "full"), (False, "standard")])
def test_auto_detection(gpu, expected):
    name, reason = profile_name({}, gpu=gpu)
    assert name == expected and reason.startswith("auto")


def test_unknown_profile_lists_valid_ones():
    with pytest.raises(ProfileError) as err:
        profile_name({"LABLIB_PROFILE": "fast"})
    for name in PROFILES:
        assert name in str(err.value)
    assert "'fast'" in str(err.value)


def test_select_returns_active_profile_values():
    per = {"quick": {"epochs": 1}, "standard": {"epochs": 5}, "full": {"epochs": 20}}
    assert select("standard", per) == {"epochs": 5}
    assert select("quick", {"quick": None, "standard": None, "full": None}) == {}


def test_select_rejects_missing_profile_and_mismatched_names():
    with pytest.raises(ProfileError, match="missing for profile"):
        select("quick", {"quick": {"a": 1}, "standard": {"a": 2}, "full": None})
    with pytest.raises(ProfileError, match="same names"):
        select("quick", {"quick": {"a": 1}, "standard": {"b": 2}, "full": {"a": 3}})


def test_labconfig_attribute_access_and_helpful_error():
    cfg = LabConfig("07_mnist", "quick", {"epochs": 2})
    assert cfg.epochs == 2 and cfg.profile == "quick"
    with pytest.raises(AttributeError, match="its settings are: epochs"):
        _ = cfg.batch_size
    assert "epochs=2" in repr(cfg)
