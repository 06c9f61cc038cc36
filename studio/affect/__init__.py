"""The shared affect control module: no torch, no pipeline, no recognizer imports here."""
from studio.affect.core import MAX_INTENSITY, Affect, nearest_labels
from studio.affect.plans import (ActionUnitPlan, ImagePlan, Plans, ProsodyPlan, action_unit_plan, image_plan, plan,
                                 prosody_plan)
from studio.affect.taxonomy import CORE_LABELS, EMOTIONS
from studio.affect.trajectory import Trajectory

__all__ = ["Affect", "Trajectory", "ProsodyPlan", "ActionUnitPlan", "ImagePlan", "Plans", "plan",
           "prosody_plan", "action_unit_plan", "image_plan", "CORE_LABELS", "EMOTIONS", "MAX_INTENSITY", "nearest_labels"]
