"""The word lists of the item quality gate (``item_quality``), English and German."""


def _set(words: str) -> frozenset[str]:
    # Casefolded as the words looked up in them are ("ließ" is looked up as "liess").
    return frozenset(words.casefold().split())


EN_FUNCTION = _set("""
a an the this that these those some any each every all both no such other another many much
more most few less its it they them their he him his she her we us our you your i me my who
whom whose which what where when why how whether if then than so as because since although
though while until unless and or but nor yet of in on at by for with without within from to
into onto over under about above below between among through during before after against near
per via not also only just still even very too often there here is are was were be been being
am do does did has have had can could may might must shall should will would
""")  # fmt: skip
DE_FUNCTION = _set("""
der die das den dem des ein eine einer einen einem eines kein keine keinen keinem keiner und
oder aber sondern denn doch nicht auch nur noch schon sehr zu zum zur im in am an auf aus bei
mit nach von vor für über unter durch gegen ohne um bis seit während wegen als wie wenn dass
ob weil obwohl da damit es er sie wir ihr ich du man sich sein seine ihre ihren ihrem unser
dieser diese dieses diesen diesem jeder jede jedes alle viele mehr meist oft sehr hier dort
ist sind war waren wird werden wurde wurden hat haben hatte hatten kann können muss müssen
soll sollte sollten darf dürfen
""")  # fmt: skip
ARTICLES = {
    "en": _set("a an the this that these those its their his her our my your some any each "
                    "every no"),
    "de": _set("der die das den dem des ein eine einer einen einem eines kein keine keinen "
                    "keinem keiner dieser diese dieses diesen diesem jeder jede jedes sein seine "
                    "seinen seinem ihr ihre ihren ihrem unser unsere"),
}  # fmt: skip
PREPOSITIONS = {
    "en": _set("of in on at by for with without within from to into onto over under about "
                    "above below between among through during before after against near per via "
                    "across along around behind beyond toward towards upon like inside outside "
                    "throughout and or"),
    "de": _set("zu zum zur im in am an auf aus bei mit nach von vom vor für über unter durch "
                    "gegen ohne um bis seit während wegen und oder"),
}  # fmt: skip
# A text that ends on one of these was cut off.
DANGLING = {
    "en": ARTICLES["en"] | PREPOSITIONS["en"] | _set(
        "but nor because although though while unless that which who whose whether if than as "
        "is are was were be been has have had can could may might must should will would do "
        "does not very"),
    "de": ARTICLES["de"] | PREPOSITIONS["de"] | _set(
        "aber sondern denn dass weil obwohl wenn als wie ob damit sehr"),
}  # fmt: skip
# Finite forms no suffix rule finds: auxiliaries, modals, frequent irregular verbs.
FINITE = {
    "en": _set("""
is are was were am isn't aren't wasn't weren't has have had hasn't haven't does do did doesn't
don't didn't can could may might must shall should will would can't cannot couldn't won't
wouldn't shouldn't it's that's there's went made took found showed shown began became grew fell
rose led left met saw knew thought brought bought built caught gave got held kept lost meant
paid ran said sold sent spent stood told understood won wrote drank ate slept woke lay arose
"""),
    "de": _set("""
ist sind war waren bin bist seid wird wirst werden wurde wurden hat haben hatte hatten habe
kann können konnte konnten muss müssen musste mussten soll sollen sollte sollten darf dürfen
durfte will wollen wollte mag mögen möchte würde würden gibt gab sei wäre hätte geht kommt
kam liegt lag steht stand bleibt blieb lässt ließ hilft half nimmt nahm gilt galt schläft
schlief trinkt trank isst aß fällt fiel hält hielt zeigt zeigte führt führte
"""),
}  # fmt: skip
# Base forms of verbs common in claims and procedures ("reduce" → reduces, reduced).
EN_VERBS = _set("""
absorb accelerate accumulate activate add adjust affect alter appear apply arise assess attach
avoid block boil boost break bring burn calculate cause change check clean close collect
combine compare compete connect consume contain contribute control convert cool correlate cost
cover create cut damage decline decrease define delay depend describe destroy detect determine
develop differ digest dilute disrupt dissolve divide double drain drink drive drop eat elevate
eliminate emit enable encourage enhance ensure enter exceed exist expand explain expose extend
fail feed fill filter flow follow form generate grow harm heat help hinder improve include
increase indicate induce influence inhibit interact interfere involve keep kill last lead
learn lengthen limit link live lower maintain make measure melt mix modulate move need occur
offer open outperform overlap pour predict prefer prepare present prevent produce promote
protect provide raise reach react receive reduce reflect regulate release relieve remain remove
repair replace represent require resist respond rest restore result reveal rinse rise run seem
separate serve set shift shorten show shrink sleep slow soak spread stabilise stabilize start
stay stimulate stir stop store strengthen stress suggest suppress support take tend test
thicken transfer transform travel treat trigger turn use vary wake warm wash weaken work
worsen yield relate impair erode fragment tend pollinate brew bake cook fall compile install
fix build write read plant paint fold clip drill print replant sow water prune store charge
dim heat steep place patch refit dress bandage disinfect wrap tighten loosen unplug plug
press hold sort label choose select find lose gain save spend invest borrow pay learn teach
practise practice train stretch breathe walk swim cycle
""")  # fmt: skip
# Base forms that are as often nouns: no imperative on their own ("Sleep hygiene ...").
EN_NOUN_VERBS = _set("""
sleep rest work stress use run test cost need support control change result show water plant
store charge heat patch press hold label print drill place dress fragment yield
""")  # fmt: skip
# Past tense forms equal to the base form.
EN_SAME_PAST = _set("split cut spread set put hit cost shut hurt let cast")
OBJECT_STARTERS = _set("a an the this that these those its their his her our some")
# Lowercase German words ending like verbs that are not verbs.
DE_NOT_VERBS = _set("""
nicht jetzt bereits meist erst zuerst oft selbst gut schlecht leicht bekannt spät laut sanft
kurz weit breit satt matt echt recht mit seit bis halt sonst samt nachts nebst insbesondere
direkt stark zuletzt meistens abends morgens eben gegen unten oben hinten vorne neben innen
außen wegen trotz zwischen binnen unten später früher länger kürzer besser mehr weniger heute
gestern morgen zusammen
""")  # fmt: skip
PLURAL_SUBJECTS = {
    "en": _set("they we you i who that which people children adults men women mice"),
    "de": _set("sie wir ihr ich die"),
}
SINGULAR_SUBJECTS = _set("it he she this that which who")
QUESTION_STARTS = {
    "en": _set("do does did is are was were can could should would will shall may might has "
                    "have had"),
    "de": _set("ist sind war waren kann können hat haben wird werden gibt soll sollte muss "
                    "darf macht wirkt hilft"),
}  # fmt: skip
WH_STARTS = {
    "en": _set("what why how when where who which whether"),
    "de": _set("was warum wie wann wo wer welche welcher welches weshalb wieso ob"),
}
# Words of one to three letters a text can end on; any other such ending is a word cut short.
SHORT_ENDINGS = _set("""
a i x am be do go he me my no of on or so to up us we at by if in is it an as ox ax ad
all and any are bad big day did dry due end eye far few fit for fun gas get god had has her
him his hot how ice ill its job key law lay led let lie low man may men mix new nor not now
odd off oil old one out own per pet put raw red run saw say see set she shy six sky son sun
tea ten the tie too top try two use war way wet who why win yes yet you zoo age air art bed
bit box boy but buy can car cat cow cup cut dog ear eat egg fat fix fly fog gap gel gut hay
hen hip hit hue hug jaw joy kid lab leg lip log map mud net nut pan pea pen pig pin pit pot
rat ray rib rod rot row rub sea sew sip sit ski spa sum tan tap tax toe ton toy tub van vet
web wax
ab an da er es im in ja je ob so um wo zu alt arm bad bei bis das dem den der des die ehe
eis ei fit gar gut hat her hin ihm ihn ihr ist man mit nie nun ort rat rot see sie tag tee
tod tun uhr und uns von vor was weg wer wie zeh zug eng neu öl
ore bee ant rye oat hop jam mug pie pup ram rig sap sow urn yam ale ash elk emu fig fin fur
gum hut ink inn ivy kin lid nap oak owl pad paw pod rag rim rug sac tin tip tot wig ask add
aid aim ate bet bow cry dig dip dye fed got hid lit met mow nod owe pay ran rid sat won apt
dim sad mad hug fan gym tax bus air ray
""")  # fmt: skip
