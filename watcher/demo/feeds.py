"""The sample news day behind ``watcher demo``: five invented outlets and their articles.

Everything here is fiction written for the demo: the outlets, the countries
(Veloria, Tarnovia), the people and the events. One event runs through the day:
the Velorian president flies to Drosk, the Tarnovian capital, to watch a military
parade, and several outlets write it up in their own way. Around it sit stories
the topics must leave alone: ordinary news (markets, weather, sport, science) and
confusers that share words with the topics — a carnival parade, a fashion-show
"parade", a foreign minister's trip, the president's tour at home, an anniversary
without a parade.

The data is plain values; ``watcher.demo`` turns each outlet into RSS 2.0 or Atom
at run time and serves it from a local HTTP server.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

# parade-trip: a write-up of the president's trip to the Drosk parade (the digest must
# show it); confuser: shares words with a topic but is not about it (must not show);
# unrelated: the rest of the day's news (must not show).
Coverage = Literal["parade-trip", "confuser", "unrelated"]
Syndication = Literal["rss", "atom"]


@dataclass(frozen=True, slots=True)
class DemoArticle:
    """One article as its outlet's feed announces it."""

    slug: str
    title: str
    summary: str
    published: datetime
    author: str
    coverage: Coverage


@dataclass(frozen=True, slots=True)
class DemoOutlet:
    """An invented news outlet: its feed's name in the demo config, and what it published."""

    name: str
    title: str
    description: str
    site: str
    syndication: Syndication
    articles: tuple[DemoArticle, ...]

    def article_url(self, article: DemoArticle) -> str:
        """The article's link; ``.example`` hosts (RFC 2606) so nothing can resolve them."""
        return f"{self.site}/2025/05/20/{article.slug}"


def _at(hour: int, minute: int) -> datetime:
    """A time on the demo's news day, Tuesday 20 May 2025, in UTC."""
    return datetime(2025, 5, 20, hour, minute, tzinfo=UTC)


NORTHWIND_WIRE = DemoOutlet(
    name="northwind-wire",
    title="Northwind Wire",
    description="World news from the Northwind agency desk.",
    site="https://northwind-wire.example",
    syndication="rss",
    articles=(
        DemoArticle(
            slug="moravec-arrives-drosk",
            title="Velorian president arrives in Drosk ahead of anniversary parade",
            summary=(
                "President Irena Moravec landed in the Tarnovian capital on Tuesday evening, "
                "the first Velorian head of state to attend the military parade held each "
                "year since the armistice eighty years ago. Tarnovian officials said she "
                "would watch from the main stand on Liberty Square."
            ),
            published=_at(19, 40),
            author="Petra Holm",
            coverage="parade-trip",
        ),
        DemoArticle(
            slug="lind-osterhaven-grain",
            title="Velorian foreign minister visits Osterhaven for grain talks",
            summary=(
                "Foreign Minister Tomas Lind arrived in Osterhaven on Tuesday to press for "
                "lower duties on Velorian grain, the second stop of a week-long tour of "
                "the northern ports."
            ),
            published=_at(11, 5),
            author="Petra Holm",
            coverage="confuser",
        ),
        DemoArticle(
            slug="crown-slips-rates",
            title="Velorian crown slips after the central bank leaves rates unchanged",
            summary=(
                "The currency fell 0.6 per cent against the dollar once the bank's board "
                "kept its main rate at 3.25 per cent and said cuts were unlikely before "
                "the autumn."
            ),
            published=_at(13, 20),
            author="Jonas Varga",
            coverage="unrelated",
        ),
        DemoArticle(
            slug="storm-edda-gales",
            title="Storm Edda to bring gales and heavy rain to the northern coast",
            summary=(
                "Forecasters expect gusts of up to 110 km/h overnight; ferry operators "
                "have cancelled the late sailings and councils have opened emergency "
                "shelters in three coastal towns."
            ),
            published=_at(15, 0),
            author="Ana Ruiz",
            coverage="unrelated",
        ),
        DemoArticle(
            slug="asteroid-capsule-recovered",
            title="Asteroid probe drops its sample capsule into the desert recovery zone",
            summary=(
                "The capsule, carrying about a hundred grams of rock, parachuted down "
                "within two kilometres of its target. Laboratories will begin opening "
                "the sealed canisters next month."
            ),
            published=_at(8, 15),
            author="Ana Ruiz",
            coverage="unrelated",
        ),
        DemoArticle(
            slug="ridgeport-cup-final",
            title="Ridgeport United win the cup final on penalties",
            summary=(
                "A goalless two hours ended with Ridgeport's reserve goalkeeper saving "
                "twice in the shoot-out, giving the club its first trophy in eleven years."
            ),
            published=_at(21, 50),
            author="Milo Brandt",
            coverage="unrelated",
        ),
        DemoArticle(
            slug="container-rates-fall",
            title="Container freight rates fall for a fifth straight week",
            summary=(
                "Spot prices on the main east-west routes are now a third below their "
                "winter peak as new ships join the fleet faster than cargo volumes grow."
            ),
            published=_at(10, 30),
            author="Jonas Varga",
            coverage="unrelated",
        ),
    ),
)

HARBOUR_LEDGER = DemoOutlet(
    name="harbour-ledger",
    title="The Harbour Ledger",
    description="Business and world affairs, from the quayside up.",
    site="https://harbour-ledger.example",
    syndication="atom",
    articles=(
        DemoArticle(
            slug="moravec-guest-of-honour",
            title="Moravec to take the guest-of-honour seat as Tarnovian troops march",
            summary=(
                "The Velorian leader begins a three-day visit to the Tarnovian capital, where "
                "some twelve thousand soldiers and columns of armour will file past the "
                "reviewing stand during Wednesday's parade. Business delegates travelling "
                "with her hope to revive a stalled pipeline agreement."
            ),
            published=_at(20, 10),
            author="Sofia Lindqvist",
            coverage="parade-trip",
        ),
        DemoArticle(
            slug="moravec-tours-delta-levees",
            title="Moravec tours flood-hit Lenna delta and pledges pumping money",
            summary=(
                "The president walked the repaired levees at Brennmark with engineers, met "
                "families still living in shelters and promised another 40 million crowns "
                "for pumping stations along the lower river."
            ),
            published=_at(9, 45),
            author="Sofia Lindqvist",
            coverage="confuser",
        ),
        DemoArticle(
            slug="chipmakers-lift-shares",
            title="Chipmakers lift Velorian shares to a two-month high",
            summary=(
                "The benchmark index closed 1.4 per cent higher, led by semiconductor "
                "firms after a strong sales forecast from the country's largest foundry."
            ),
            published=_at(16, 35),
            author="Karl Osei",
            coverage="unrelated",
        ),
        DemoArticle(
            slug="oil-steady-producers",
            title="Oil holds steady before next week's producers' meeting",
            summary=(
                "Brent-grade crude traded in a narrow band as traders waited to see "
                "whether the exporting group would extend its output cuts into the winter."
            ),
            published=_at(12, 0),
            author="Karl Osei",
            coverage="unrelated",
        ),
        DemoArticle(
            slug="airline-orders-turboprops",
            title="Regional airline orders forty turboprops for island routes",
            summary=(
                "The order, worth about 900 million dollars at list prices, replaces an "
                "ageing fleet and adds six new routes to the outer islands from 2027."
            ),
            published=_at(14, 10),
            author="Karl Osei",
            coverage="unrelated",
        ),
        DemoArticle(
            slug="drought-wheat-forecast",
            title="Drought trims the wheat harvest forecast by a tenth",
            summary=(
                "A dry spring on the central plateau has left crops short of water at the "
                "stage when grain fills; the farm ministry now expects the smallest harvest "
                "in six years."
            ),
            published=_at(7, 50),
            author="Leni Park",
            coverage="unrelated",
        ),
        DemoArticle(
            slug="insurers-storm-claims",
            title="Insurers brace for storm claims along the northern coast",
            summary=(
                "Underwriters have moved extra loss adjusters north ahead of Storm Edda "
                "and warned homeowners to photograph any damage before clearing it."
            ),
            published=_at(17, 25),
            author="Leni Park",
            coverage="unrelated",
        ),
    ),
)

MERIDIAN_DAILY = DemoOutlet(
    name="meridian-daily",
    title="Meridian Daily",
    description="News, analysis and culture from Meridian.",
    site="https://meridian-daily.example",
    syndication="rss",
    articles=(
        DemoArticle(
            slug="analysis-seat-on-the-stand",
            title="Analysis: a seat on the stand in Drosk, and what it tells the neighbours",
            summary=(
                "By travelling abroad to watch missiles and tanks roll through the Tarnovian "
                "capital, President Moravec sends a message far beyond the parade ground, "
                "diplomats say. Her predecessors kept away from such displays; her advisers "
                "call the trip a gesture of thanks rather than of alignment."
            ),
            published=_at(21, 5),
            author="Hugo Marchetti",
            coverage="parade-trip",
        ),
        DemoArticle(
            slug="drosk-rehearsal-closures",
            title="Drosk shuts central avenues for the final parade rehearsal",
            summary=(
                "Armoured vehicles and marching units rehearsed through the night as the "
                "city prepared for Wednesday's military parade; residents were told to "
                "expect closures around Liberty Square until Thursday."
            ),
            published=_at(6, 30),
            author="Hugo Marchetti",
            coverage="parade-trip",
        ),
        DemoArticle(
            slug="port-lissa-carnival",
            title="Giant puppets and samba drummers lead the Port Lissa carnival parade",
            summary=(
                "Tens of thousands lined the seafront for the carnival's closing parade, "
                "with forty community groups competing for the best-costume prize. "
                "Organisers said the rain held off until the last float had passed."
            ),
            published=_at(22, 15),
            author="Clara Nkemelu",
            coverage="confuser",
        ),
        DemoArticle(
            slug="southern-heatwave-warning",
            title="Heatwave warning extended across the southern plains",
            summary=(
                "Daytime temperatures are forecast to stay above 36C until Sunday; "
                "hospitals have postponed routine operations and water companies ask "
                "customers not to fill garden pools."
            ),
            published=_at(9, 0),
            author="Clara Nkemelu",
            coverage="unrelated",
        ),
        DemoArticle(
            slug="kessler-yellow-jersey",
            title="Kessler takes the yellow jersey after a brutal mountain stage",
            summary=(
                "The 24-year-old attacked on the final climb and finished 48 seconds clear "
                "of the favourites, with six stages of the tour still to ride."
            ),
            published=_at(17, 55),
            author="Rafael Dube",
            coverage="unrelated",
        ),
        DemoArticle(
            slug="deep-sea-coral-species",
            title="Deep-sea survey finds three coral species new to science",
            summary=(
                "A remotely operated vehicle working 1,800 metres down on an undersea "
                "ridge collected the corals, one of which glows faintly under blue light."
            ),
            published=_at(11, 40),
            author="Ines Sato",
            coverage="unrelated",
        ),
        DemoArticle(
            slug="festival-lighthouse-documentary",
            title="Film festival opens with a documentary about lighthouse keepers",
            summary=(
                "The opening film follows the last three keepers on the western cape "
                "through their final winter before the lights are automated."
            ),
            published=_at(19, 0),
            author="Ines Sato",
            coverage="unrelated",
        ),
    ),
)

EASTGATE_COURIER = DemoOutlet(
    name="eastgate-courier",
    title="Eastgate Courier",
    description="The Courier's world and national pages.",
    site="https://eastgate-courier.example",
    syndication="atom",
    articles=(
        DemoArticle(
            slug="drosk-readies-biggest-parade",
            title="Tanks, fly-pasts and a foreign guest: Drosk readies its biggest parade",
            summary=(
                "Tarnovia will show new air-defence systems on Wednesday with the Velorian "
                "president watching beside its own head of state, a pairing few would have "
                "predicted a year ago. Moravec's state visit also covers talks on river "
                "shipping and power lines."
            ),
            published=_at(18, 20),
            author="Dana Whitcombe",
            coverage="parade-trip",
        ),
        DemoArticle(
            slug="fashion-week-net-parade",
            title="Fashion week ends with a parade of clothes made from fishing nets",
            summary=(
                "Designers from the coastal towns closed the week with a catwalk show "
                "built around reclaimed nets and old sailcloth."
            ),
            published=_at(20, 45),
            author="Noor Haddad",
            coverage="confuser",
        ),
        DemoArticle(
            slug="bond-yields-inflation",
            title="Bond yields climb as inflation surprises on the upside",
            summary=(
                "Consumer prices rose 3.1 per cent on the year in April, above every "
                "forecast in a survey of economists, pushing ten-year yields to 4.2 per cent."
            ),
            published=_at(10, 5),
            author="Owen Achebe",
            coverage="unrelated",
        ),
        DemoArticle(
            slug="rail-strike-friday",
            title="Rail unions call a 24-hour strike for Friday",
            summary=(
                "Talks over shift patterns broke down on Monday night; the operator says "
                "it can run one train in five on the main lines."
            ),
            published=_at(12, 40),
            author="Owen Achebe",
            coverage="unrelated",
        ),
        DemoArticle(
            slug="comet-naked-eye",
            title="Comet should be visible to the naked eye by the weekend",
            summary=(
                "Astronomers say the comet brightened sharply after passing the sun; look "
                "low in the western sky about an hour after sunset."
            ),
            published=_at(15, 15),
            author="Noor Haddad",
            coverage="unrelated",
        ),
        DemoArticle(
            slug="qualifier-reaches-quarters",
            title="Teenage qualifier reaches the Portsdam Open quarter-finals",
            summary=(
                "Ranked 212th a month ago, the 17-year-old beat the fourth seed in three "
                "sets and has not dropped serve all week."
            ),
            published=_at(18, 0),
            author="Lucas Ferreira",
            coverage="unrelated",
        ),
        DemoArticle(
            slug="waiting-lists-shorten",
            title="Hospital waiting lists shorten for a third month running",
            summary=(
                "About 14,000 fewer patients were waiting for planned treatment at the end "
                "of April, helped by weekend clinics at the larger hospitals."
            ),
            published=_at(8, 50),
            author="Lucas Ferreira",
            coverage="unrelated",
        ),
    ),
)

COBALT_BAY_RADIO = DemoOutlet(
    name="cobalt-bay-radio",
    title="Cobalt Bay Radio News",
    description="Hourly bulletins from Cobalt Bay Radio.",
    site="https://cobalt-bay-radio.example",
    syndication="rss",
    articles=(
        DemoArticle(
            slug="moravec-lands-drosk",
            title="Moravec lands in Drosk",
            summary=(
                "The Velorian president's plane touched down in the Tarnovian capital "
                "shortly after nine in the evening. She is due at tomorrow's military parade "
                "and meets business groups before her visit ends on Thursday."
            ),
            published=_at(21, 30),
            author="Cobalt Bay newsroom",
            coverage="parade-trip",
        ),
        DemoArticle(
            slug="armistice-letters-archive",
            title="Drosk museum opens an archive of armistice-era letters for the anniversary",
            summary=(
                "More than two thousand letters written home by soldiers and nurses "
                "have been digitised and can be read online from today."
            ),
            published=_at(13, 0),
            author="Cobalt Bay newsroom",
            coverage="confuser",
        ),
        DemoArticle(
            slug="fog-delays-ferries",
            title="Fog delays the morning ferries across the bay",
            summary=(
                "The first three crossings left up to ninety minutes late; the harbour "
                "master expects visibility to improve by noon."
            ),
            published=_at(7, 15),
            author="Cobalt Bay newsroom",
            coverage="unrelated",
        ),
        DemoArticle(
            slug="harbour-athletic-goalkeeper",
            title="Harbour Athletic sign a goalkeeper on loan until the end of the season",
            summary=(
                "The 30-year-old joins from the capital and could start on Saturday after "
                "injuries to both of the club's senior keepers."
            ),
            published=_at(14, 45),
            author="Cobalt Bay newsroom",
            coverage="unrelated",
        ),
        DemoArticle(
            slug="fuel-prices-dip",
            title="Fuel prices dip at the pump for the first time since March",
            summary=(
                "A litre of unleaded costs on average four cents less than a week ago, "
                "according to the motoring association's weekly survey."
            ),
            published=_at(16, 0),
            author="Cobalt Bay newsroom",
            coverage="unrelated",
        ),
        DemoArticle(
            slug="basking-sharks-tagged",
            title="Researchers tag basking sharks off the cape",
            summary=(
                "Satellite tags fitted to five sharks this week should show where the "
                "animals spend the winter, which is still largely unknown."
            ),
            published=_at(11, 20),
            author="Cobalt Bay newsroom",
            coverage="unrelated",
        ),
    ),
)

DEMO_OUTLETS: tuple[DemoOutlet, ...] = (
    NORTHWIND_WIRE,
    HARBOUR_LEDGER,
    MERIDIAN_DAILY,
    EASTGATE_COURIER,
    COBALT_BAY_RADIO,
)
