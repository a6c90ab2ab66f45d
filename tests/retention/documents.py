"""A document of several chunks, written for these tests, and a careful model's graph of it.

Its anchors are whole sentences, as a model quotes them: the server must keep only fragments.
Some are adjacent in the text, so fragments that touch are joined when the limits are checked.
"""

from tests.pipeline.scripted import ScriptedFact

HOLLEN_TITLE = "The Salt Marsh of Hollen Bay"
HOLLEN = (
    "The salt marsh of Hollen Bay lies behind a long shingle spit on the northern coast. For "
    "most of the nineteenth century the marsh was grazed by sheep from the farms of Eastwick, "
    "whose shepherds cut channels through the reeds so that the tide could drain away before "
    "the flocks came down in spring. The channels silted up within a few years, and each "
    "generation dug them again by hand.\n\n"
    "In 1887 the parish council of Eastwick built an embankment across the mouth of the "
    "largest creek. The council hoped to turn the marsh into arable land, but the soil behind "
    "the embankment stayed salty and the first harvests of barley failed. A storm in the winter "
    "of 1894 broke the embankment in three places, and the sea returned to the fields it had "
    "lost.\n\n"
    "Ada Prentice, a schoolteacher from Eastwick, began to record the birds of the marsh in "
    "1902. Her notebooks list redshank, lapwing and curlew nesting on the higher ground every "
    "year, and they describe large flocks of wigeon and brent geese arriving each October. "
    "Prentice counted the birds on the first Sunday of every month for thirty-one years, in "
    "every kind of weather, and she never missed a count.\n\n"
    "After her death the notebooks passed to the county museum in Marlow. Researchers from "
    "the University of Marlow compared her counts with modern surveys in 1998. They found that "
    "the number of breeding redshank had fallen by more than half, while the winter flocks of "
    "brent geese had grown larger than Prentice had ever recorded.\n\n"
    "The researchers argued that the decline of the redshank followed the drainage of the "
    "neighbouring meadows, where the birds had fed during the breeding season. The geese, by "
    "contrast, had begun to feed on winter wheat in the fields beyond the sea wall, and the "
    "abundant crop carried more of them through the cold months than the marsh alone could "
    "have supported.\n\n"
    "In 2006 the Hollen Marsh Trust bought the marsh from the descendants of the Eastwick "
    "farmers. The trust removed what remained of the old embankment, and it let the tide flood "
    "the lowest fields twice a day. Within five years the mud of the new creeks was full of "
    "worms and small shellfish, and redshank were nesting again on the restored ground.\n\n"
    "Not everyone in Eastwick welcomed the return of the sea. Some farmers had hoped to buy the "
    "fields behind the old embankment, and they argued at a public meeting in 2005 that good "
    "land was being given away to the birds. The trust answered that the fields had never "
    "produced a reliable crop, and that a working marsh would protect the village from storms "
    "better than any wall. A survey by the county engineers in 2012 supported the trust: the "
    "restored marsh had reduced the height of the waves reaching the sea wall during the storms "
    "of that winter.\n\n"
    "The marsh is also a place of work. Every August the trust lets two families from Eastwick "
    "cut samphire on the lower mud, as their grandparents did, and the harvest is sold at the "
    "market in Marlow on the following Saturday. The cutters take only the tips of the plants, "
    "leaving the roots to hold the mud together against the winter tides.\n\n"
    "Volunteers from Eastwick still count the birds on the first Sunday of every month. They "
    "use the same route along the spit that Ada Prentice walked, and they publish their counts "
    "beside hers, so that anyone can follow more than a century of change in one place."
)

ADA = {"name": "Ada Prentice", "type": "person", "aliases": ["Prentice"]}
EASTWICK = {"name": "Eastwick", "type": "place"}
COUNCIL = {"name": "parish council of Eastwick", "type": "organization"}
MARSH = {"name": "Hollen Bay", "type": "place"}
MUSEUM = {"name": "county museum in Marlow", "type": "organization"}
UNIVERSITY = {"name": "University of Marlow", "type": "organization"}
TRUST = {"name": "Hollen Marsh Trust", "type": "organization", "aliases": ["trust"]}
REDSHANK = {"name": "redshank", "type": "thing"}
GEESE = {"name": "brent geese", "type": "thing"}
ENGINEERS = {"name": "county engineers", "type": "organization"}
SAMPHIRE = {"name": "samphire", "type": "substance"}


def _sentence(start: str) -> str:
    """The whole sentence of HOLLEN that begins with ``start``."""
    at = HOLLEN.index(start)
    return HOLLEN[at : HOLLEN.index(".", at) + 1]


def relation(subject, predicate, obj, anchor_start):
    return {
        "kind": "relation",
        "subject": subject,
        "predicate": predicate,
        "object": obj,
        "anchor": _sentence(anchor_start),
    }


def attribute(subject, predicate, value, anchor_start):
    return {
        "kind": "attribute",
        "subject": subject,
        "predicate": predicate,
        "value": value,
        "anchor": _sentence(anchor_start),
    }


HOLLEN_GRAPH = [
    ScriptedFact("lies behind a long shingle spit",
                 attribute("Hollen Bay", "lies behind", "a shingle spit", "The salt marsh of"),
                 [MARSH]),
    ScriptedFact("grazed by sheep",
                 relation("Hollen Bay", "was grazed from", "Eastwick", "For most of the"),
                 [MARSH, EASTWICK]),
    ScriptedFact("built an embankment",
                 attribute("parish council of Eastwick", "built embankment in", "1887",
                           "In 1887 the parish"),
                 [COUNCIL]),
    ScriptedFact("broke the embankment",
                 attribute("parish council of Eastwick", "lost embankment in", "1894",
                           "A storm in the winter"),
                 [COUNCIL]),
    ScriptedFact("began to record the birds",
                 attribute("Ada Prentice", "began recording birds in", "1902", "Ada Prentice, a"),
                 [ADA]),
    ScriptedFact("Her notebooks list",
                 relation("Ada Prentice", "recorded", "redshank", "Her notebooks list"),
                 [ADA, REDSHANK]),
    ScriptedFact("never missed a count",
                 attribute("Ada Prentice", "counted birds for", "thirty-one years",
                           "Prentice counted the"),
                 [ADA]),
    ScriptedFact("passed to the county museum",
                 relation("Ada Prentice", "notebooks kept by", "county museum in Marlow",
                          "After her death"),
                 [ADA, MUSEUM]),
    ScriptedFact("compared her counts",
                 relation("University of Marlow", "compared counts of", "Ada Prentice",
                          "Researchers from the University"),
                 [UNIVERSITY, ADA]),
    ScriptedFact("had fallen by more than half",
                 attribute("redshank", "breeding numbers", "fell by more than half",
                           "They found that"),
                 [REDSHANK]),
    ScriptedFact("decline of the redshank",
                 attribute("redshank", "declined after", "drainage of meadows",
                           "The researchers argued"),
                 [REDSHANK]),
    ScriptedFact("feed on winter wheat",
                 attribute("brent geese", "feed on", "winter wheat", "The geese, by contrast"),
                 [GEESE]),
    ScriptedFact("bought the marsh",
                 relation("Hollen Marsh Trust", "bought", "Hollen Bay", "In 2006 the Hollen"),
                 [TRUST, MARSH]),
    ScriptedFact("removed what remained",
                 attribute("Hollen Marsh Trust", "removed", "the old embankment",
                           "The trust removed"),
                 [TRUST]),
    ScriptedFact("nesting again",
                 attribute("redshank", "nesting again within", "five years", "Within five years"),
                 [REDSHANK]),
    ScriptedFact("a public meeting in 2005",
                 attribute("Eastwick", "farmers objected in", "2005", "Some farmers had hoped"),
                 [EASTWICK]),
    ScriptedFact("a working marsh would protect",
                 attribute("Hollen Marsh Trust", "argued marsh protects", "the village",
                           "The trust answered"),
                 [TRUST]),
    ScriptedFact("county engineers in 2012",
                 relation("county engineers", "supported", "Hollen Marsh Trust",
                          "A survey by the county"),
                 [ENGINEERS, TRUST]),
    ScriptedFact("cut samphire",
                 relation("Hollen Marsh Trust", "lets families cut samphire on", "Hollen Bay",
                          "Every August the trust"),
                 [TRUST, MARSH]),
    ScriptedFact("take only the tips",
                 attribute("samphire", "cut as", "tips only", "The cutters take only"),
                 [SAMPHIRE]),
    ScriptedFact("Volunteers from Eastwick",
                 relation("Eastwick", "volunteers count birds like", "Ada Prentice",
                          "Volunteers from Eastwick"),
                 [EASTWICK, ADA]),
    ScriptedFact("publish their counts",
                 relation("Eastwick", "volunteers publish counts beside", "Ada Prentice",
                          "They use the same route"),
                 [EASTWICK, ADA]),
]  # fmt: skip
