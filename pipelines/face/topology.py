"""Index groups on MediaPipe's 478-point face mesh, written down from the FaceMesh topology.

"Right"/"left" are the subject's: the subject's right eye is on the image's left. Iris points
(468-477) are listed separately because the warp leaves them out of the triangulation (a closing
lid must slide over the eye, not fold around a fixed iris point).
"""
from __future__ import annotations

N_LANDMARKS = 478
IRIS = tuple(range(468, 478))

LIPS_OUTER_UPPER = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291)
LIPS_OUTER_LOWER = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291)
LIPS_INNER_UPPER = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308)
LIPS_INNER_LOWER = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308)
MOUTH_CORNERS = (61, 291)        # outer corners, right then left
INNER_CORNERS = (78, 308)
UPPER_LIP_MID, LOWER_LIP_MID = 13, 14

# eyelid margins, outer corner → inner corner; upper[i] sits above lower[i]
RIGHT_EYE_UPPER = (246, 161, 160, 159, 158, 157, 173)
RIGHT_EYE_LOWER = (7, 163, 144, 145, 153, 154, 155)
RIGHT_EYE_CORNERS = (33, 133)    # outer, inner
LEFT_EYE_UPPER = (466, 388, 387, 386, 385, 384, 398)
LEFT_EYE_LOWER = (249, 390, 373, 374, 380, 381, 382)
LEFT_EYE_CORNERS = (263, 362)
RIGHT_EYE = RIGHT_EYE_CORNERS + RIGHT_EYE_UPPER + RIGHT_EYE_LOWER
LEFT_EYE = LEFT_EYE_CORNERS + LEFT_EYE_UPPER + LEFT_EYE_LOWER

# eyebrows, outer → inner, upper edge then lower edge
RIGHT_BROW = (70, 63, 105, 66, 107, 46, 53, 52, 65, 55)
LEFT_BROW = (300, 293, 334, 296, 336, 276, 283, 282, 295, 285)
RIGHT_BROW_INNER = (107, 66, 55, 65)
LEFT_BROW_INNER = (336, 296, 285, 295)
RIGHT_BROW_OUTER = (70, 46, 63, 53)
LEFT_BROW_OUTER = (300, 276, 293, 283)

NOSE_TIP = 1
NOSE_BRIDGE = (168, 6, 197, 195, 5, 4, 1)
RIGHT_ALA = (129, 98, 64, 48, 102)
LEFT_ALA = (358, 327, 294, 278, 331)

RIGHT_CHEEK = (50, 101, 36, 205, 187, 123, 116, 117, 118, 119, 100, 47)
LEFT_CHEEK = (280, 330, 266, 425, 411, 352, 345, 346, 347, 348, 329, 277)
CHIN = (152, 175, 199, 200, 18, 171, 396, 148, 377)

FACE_OVAL = (10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152, 148,
             176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109)
JAW_HINGES = (234, 454)          # face-oval points in front of the ears, right then left
