"""The fixed cast of the sandbox books: Harbor Supply Co.'s clients, vendors, items and bill categories.

Owns names, addresses and prices only; which documents they appear on is the generator's business. The
partner names here are the ones ``sandbox/data/partners.yaml`` matches on; keep the two in step.
"""

from __future__ import annotations

from dataclasses import dataclass

COMPANY = "Harbor Supply Co."


@dataclass(frozen=True)
class ClientSpec:
    organization: str
    fname: str
    lname: str
    email: str
    street: str
    city: str
    province: str
    code: str
    country: str
    currency_code: str
    weight: float  # share of invoices
    terms_days: int = 30
    taxes: tuple[tuple[str, str], ...] = (("ST", "8"),)  # (name, percent) applied to taxable items
    vis_state: int = 0


CLIENTS: tuple[ClientSpec, ...] = (
    ClientSpec("Acme Retail Stores", "Maria", "Lopez", "ap@acmeretail.example", "1200 Commerce Blvd",
               "Columbus", "Ohio", "43215", "United States", "USD", 0.30, 30, (("ST", "7.25"),)),
    ClientSpec("Northwind Grocers", "Sam", "Okafor", "payables@northwind.example", "55 Market Square",
               "Hartford", "Connecticut", "06103", "United States", "USD", 0.25, 45, (("ST", "6.35"),)),
    ClientSpec("Blue Heron Cafe", "Ines", "Park", "owner@blueheron.example", "9 Fore St", "Portland", "Maine",
               "04101", "United States", "USD", 0.06),
    ClientSpec("Pine Street Hardware", "Tom", "Reyes", "tom@pinestreet.example", "310 Pine St", "Burlington",
               "Vermont", "05401", "United States", "USD", 0.06, 15, (("ST", "6"),)),
    ClientSpec("Maple Leaf Provisions", "Claire", "Tremblay", "comptes@mapleleaf.example", "77 Rue Principale",
               "Montreal", "Quebec", "H2X 1Y4", "Canada", "CAD", 0.04, 30, (("GST", "5"), ("QST", "9.975"))),
    ClientSpec("Cedar Valley Co-op", "Ruth", "Hale", "orders@cedarvalley.example", "4 Mill Rd", "Concord",
               "New Hampshire", "03301", "United States", "USD", 0.06, 30, ()),
    ClientSpec("Lighthouse Marine Supply", "Ben", "Cole", "ap@lighthousemarine.example", "2 Harbor Way",
               "Gloucester", "Massachusetts", "01930", "United States", "USD", 0.06, 30, (("ST", "6.25"),)),
    ClientSpec("Granite State Builders", "Lee", "Nguyen", "billing@granitestate.example", "18 Quarry Ln",
               "Manchester", "New Hampshire", "03101", "United States", "USD", 0.05, 60, ()),
    ClientSpec("Tidewater Restaurant Group", "Ava", "Brooks", "ap@tidewater.example", "600 Bay St", "Norfolk",
               "Virginia", "23510", "United States", "USD", 0.05, 30, (("ST", "6"),)),
    ClientSpec("Great Lakes Janitorial", "Omar", "Haddad", "ap@greatlakes.example", "45 King St W", "Toronto",
               "Ontario", "M5H 1J8", "Canada", "CAD", 0.03, 30, (("HST", "13"),)),
    ClientSpec("Riverside School District", "Jo", "Kim", "purchasing@riverside.example", "1 School St",
               "Augusta", "Maine", "04330", "United States", "USD", 0.03, 45, ()),
    ClientSpec("Old Port Deli", "Nick", "Russo", "nick@oldportdeli.example", "21 Exchange St", "Portland",
               "Maine", "04101", "United States", "USD", 0.01, 15, (("ST", "5.5"),), vis_state=2),
)


@dataclass(frozen=True)
class VendorSpec:
    vendor_name: str
    contact_first: str
    contact_last: str
    email: str
    street: str
    city: str
    province: str
    postal_code: str
    country: str
    currency_code: str
    weight: float  # share of bills
    account_number: str
    vis_state: int = 0


VENDORS: tuple[VendorSpec, ...] = (
    VendorSpec("Bolt Fasteners Inc.", "Dana", "Price", "ar@boltfasteners.example", "900 Industrial Pkwy",
               "Cleveland", "Ohio", "44114", "United States", "USD", 0.32, "HSC-1001"),
    VendorSpec("Coastal Packaging LLC", "Eli", "Moss", "billing@coastalpack.example", "14 Dock St", "Boston",
               "Massachusetts", "02110", "United States", "USD", 0.28, "HARBOR-77"),
    VendorSpec("Northeast Freight Lines", "Kai", "Silva", "invoices@nefreight.example", "3 Depot Rd",
               "Worcester", "Massachusetts", "01608", "United States", "USD", 0.14, "NEF-5521"),
    VendorSpec("Summit Office Supply", "Pat", "Lee", "ar@summitoffice.example", "88 Elm St", "Portland",
               "Maine", "04101", "United States", "USD", 0.10, "SOS-310"),
    VendorSpec("Granite Steel Works", "Iris", "Stone", "ar@granitesteel.example", "5 Forge Ln", "Nashua",
               "New Hampshire", "03060", "United States", "USD", 0.10, "GSW-0042"),
    VendorSpec("Laurentian Paper Co.", "Luc", "Roy", "ar@laurentian.example", "40 Rue du Port", "Quebec",
               "Quebec", "G1K 4E6", "Canada", "CAD", 0.05, "LPC-77"),
    VendorSpec("Bayview Pallet Co.", "Gus", "Ward", "ar@bayviewpallet.example", "2 Yard Rd", "Bangor",
               "Maine", "04401", "United States", "USD", 0.01, "BPC-9", vis_state=2),
)


@dataclass(frozen=True)
class ItemSpec:
    name: str
    description: str
    sku: str
    unit_cost: str
    taxable: bool = True


ITEMS: tuple[ItemSpec, ...] = (
    ItemSpec("Hex bolt M8x40", "Zinc plated, box of 100", "HB-M8-40", "18.40"),
    ItemSpec("Hex bolt M10x60", "Zinc plated, box of 50", "HB-M10-60", "21.75"),
    ItemSpec("Hex nut M8", "Grade 8, box of 200", "HN-M8", "9.60"),
    ItemSpec("Flat washer M8", "Stainless, box of 200", "FW-M8-SS", "12.10"),
    ItemSpec("Wood screw #8x1-1/4", "Coarse thread, box of 500", "WS-8-125", "14.95"),
    ItemSpec("Drywall screw 1-5/8", "Black phosphate, 5 lb", "DS-158-5", "27.50"),
    ItemSpec("Lag screw 3/8x4", "Hot-dip galvanized, box of 25", "LS-38-4", "16.20"),
    ItemSpec("Anchor kit", "Plastic anchors with screws, 100 pc", "AK-100", "11.30"),
    ItemSpec("Stretch wrap 18in", "80 gauge, 1500 ft roll", "SW-18-80", "24.99"),
    ItemSpec("Corrugated box 12x12x12", "32 ECT, bundle of 25", "CB-121212", "31.25"),
    ItemSpec("Corrugated box 18x12x10", "32 ECT, bundle of 25", "CB-181210", "36.80"),
    ItemSpec("Packing tape 2in", "Clear, case of 36", "PT-2-36", "54.00"),
    ItemSpec("Bubble roll 12in", "3/16 in bubbles, 175 ft", "BR-12-175", "29.40"),
    ItemSpec("Pallet, 48x40", "Grade A hardwood", "PL-4840-A", "14.00"),
    ItemSpec("Nitrile gloves L", "Powder free, case of 1000", "NG-L-1000", "89.00"),
    ItemSpec("Shop towels", "Blue, box of 200", "ST-BLU-200", "19.95"),
    ItemSpec("Trash liners 33gal", "1.5 mil, case of 100", "TL-33-100", "32.40"),
    ItemSpec("Floor cleaner", "Neutral pH, 4 x 1 gal", "FC-4X1", "42.60"),
    ItemSpec("Paper towel rolls", "Kraft, case of 12", "PTR-12", "38.75"),
    ItemSpec("Hand soap refill", "Foam, 6 x 1000 ml", "HS-6X1000", "47.10"),
    ItemSpec("Safety glasses", "Clear, anti-fog, dozen", "SG-CLR-12", "28.80"),
    ItemSpec("Work light LED", "20 W, rechargeable", "WL-20W", "64.00"),
    ItemSpec("Extension cord 50ft", "12/3 gauge, outdoor", "EC-50-123", "58.25"),
    ItemSpec("Zip ties 8in", "UV black, bag of 1000", "ZT-8-1000", "17.60"),
    ItemSpec("Cable clamp 1/2", "Nylon, bag of 100", "CC-12-100", "8.90"),
    ItemSpec("Hose clamp #12", "Stainless, box of 10", "HC-12-10", "13.45"),
    ItemSpec("Rope, polypropylene 3/8", "600 ft coil", "RP-38-600", "44.50"),
    ItemSpec("Marine cleat 6in", "Stainless steel", "MC-6-SS", "22.30"),
    ItemSpec("Shelf bracket 10in", "Heavy duty, pair", "SB-10-HD", "9.75"),
    ItemSpec("Steel shelving unit", "5-shelf, 72x36x18", "SSU-72", "189.00"),
    ItemSpec("Hand truck", "Convertible, 800 lb", "HT-800", "229.00"),
    ItemSpec("Label printer roll", "4x6 thermal, 250 labels", "LPR-46", "12.80"),
    ItemSpec("Delivery fee", "Local delivery", "SVC-DEL", "45.00", taxable=False),
    ItemSpec("Freight surcharge", "Fuel and handling", "SVC-FRT", "35.00", taxable=False),
    ItemSpec("Restocking fee", "Returned goods handling", "SVC-RST", "25.00", taxable=False),
)


@dataclass(frozen=True)
class CategorySpec:
    categoryid: int
    category: str
    is_cogs: bool


CATEGORIES: tuple[CategorySpec, ...] = (
    CategorySpec(65770, "Cost of Goods Sold", True),
    CategorySpec(65771, "Shipping & Freight", True),
    CategorySpec(65772, "Office Expenses & Postage", False),
    CategorySpec(65773, "Supplies", False),
    CategorySpec(65774, "Repairs & Maintenance", False),
)

PAYMENT_TYPES = ("Check", "ACH", "Bank Transfer", "Credit Card", "VISA", "Cash")
BILL_PAYMENT_TYPES = ("Check", "Bank Transfer", "Credit Card", "Cash")
