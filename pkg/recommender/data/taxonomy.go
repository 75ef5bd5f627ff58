package data

import "strings"

// department is one top-level branch of the synthetic catalogue.
type department struct {
	name       string
	attributes []string // adjectives and variants used in titles
	aisles     []aisle
}

// aisle is a leaf category with its own product nouns.
type aisle struct {
	name  string
	nouns []string
}

// taxonomySpec lists 20 departments and 130 aisles. Each department line is
// "Department ; attr, attr, ..." followed by aisle lines "Aisle: noun, noun".
const taxonomySpec = `
Produce ; Organic, Fresh, Local, Seasonal, Ripe, Baby, Sweet, Crisp
Fresh Fruit: Apples, Bananas, Blueberries, Strawberries, Grapes, Oranges, Mangoes
Fresh Vegetables: Carrots, Tomatoes, Bell Peppers, Onions, Potatoes, Zucchini, Broccoli
Fresh Herbs: Basil, Parsley, Cilantro, Mint, Rosemary, Thyme
Packaged Salads: Salad Mix, Spinach, Kale, Romaine Hearts, Arugula
Mushrooms: Cremini Mushrooms, Shiitake Mushrooms, Portobello Caps, Oyster Mushrooms
Dried Fruit: Raisins, Dried Apricots, Dates, Dried Cranberries, Prunes
Pantry ; Organic, Whole Grain, Gluten Free, Family Size, Low Sodium, Classic, Extra Virgin, Crunchy, Honey, Low Sugar
Pasta: Spaghetti, Penne, Fusilli, Lasagna Sheets, Egg Noodles, Orzo
Rice and Grains: Basmati Rice, Jasmine Rice, Quinoa, Couscous, Bulgur, Arborio Rice
Canned Goods: Chickpeas, Black Beans, Diced Tomatoes, Tuna, Sweet Corn, Coconut Milk
Oils and Vinegars: Olive Oil, Sunflower Oil, Balsamic Vinegar, Apple Cider Vinegar, Sesame Oil
Spices: Black Pepper, Paprika, Cumin, Turmeric, Cinnamon, Chili Flakes, Curry Powder
Baking: Flour, Baking Powder, Cocoa Powder, Vanilla Extract, Brown Sugar, Yeast
Sauces: Pasta Sauce, Pesto, Soy Sauce, Ketchup, Mayonnaise, Hot Sauce
Cereal: Corn Flakes, Granola, Muesli, Oat Rings, Bran Flakes
Oatmeal: Rolled Oats, Instant Oatmeal, Steel Cut Oats, Porridge Pots
Spreads: Peanut Butter, Almond Butter, Strawberry Jam, Hazelnut Spread, Honey
Breakfast Bars: Granola Bars, Protein Bars, Oat Bars, Fruit Bars
Pancake Mixes: Pancake Mix, Waffle Mix, Maple Syrup, Crepe Mix
Beverages ; Sparkling, Diet, Zero Sugar, Organic, Cold Brew, Decaf, Tropical
Coffee: Coffee Beans, Ground Coffee, Espresso Pods, Instant Coffee, Cold Brew Concentrate
Tea: Green Tea, Black Tea, Herbal Tea, Chai, Matcha Powder
Juice: Orange Juice, Apple Juice, Cranberry Juice, Smoothie, Lemonade
Soft Drinks: Cola, Lemon Soda, Ginger Ale, Root Beer, Energy Drink
Water: Sparkling Water, Spring Water, Flavored Water, Coconut Water
Plant Milk: Oat Milk, Almond Milk, Soy Milk, Rice Milk
Sports Drinks: Sports Drink, Electrolyte Tablets, Recovery Shake
Dairy and Eggs ; Organic, Low Fat, Whole, Lactose Free, Greek, Aged, Grass Fed
Milk: Whole Milk, Skim Milk, Chocolate Milk, Half and Half
Cheese: Cheddar, Mozzarella, Parmesan, Brie, Feta, Gouda
Yogurt: Greek Yogurt, Drinkable Yogurt, Skyr, Yogurt Cups
Eggs: Free Range Eggs, Egg Whites, Quail Eggs
Butter and Cream: Butter, Heavy Cream, Sour Cream, Cream Cheese
Frozen ; Family Size, Organic, Crispy, Thin Crust, Vegan, Classic
Frozen Pizza: Margherita Pizza, Pepperoni Pizza, Veggie Pizza, Pizza Bites
Frozen Vegetables: Frozen Peas, Frozen Spinach, Stir Fry Mix, Frozen Corn
Ice Cream: Vanilla Ice Cream, Gelato, Sorbet, Ice Cream Bars, Frozen Yogurt
Frozen Meals: Lasagna, Burrito, Dumplings, Mac and Cheese, Curry Bowl
Frozen Breakfast: Frozen Waffles, Breakfast Sandwich, Hash Browns
Frozen Seafood: Fish Fingers, Shrimp, Salmon Fillets, Calamari Rings
Meat and Seafood ; Grass Fed, Free Range, Organic, Smoked, Wild Caught, Lean, Marinated
Beef: Ground Beef, Ribeye Steak, Sirloin, Beef Brisket, Burger Patties
Poultry: Chicken Breast, Chicken Thighs, Whole Chicken, Turkey Mince, Chicken Wings
Pork: Pork Chops, Bacon, Pork Sausages, Ham, Pulled Pork
Seafood: Salmon, Cod, Prawns, Tuna Steak, Mussels
Deli Meats: Salami, Prosciutto, Turkey Slices, Chorizo, Pastrami
Plant Protein: Tofu, Tempeh, Seitan, Veggie Burger, Plant Based Mince
Snacks ; Salted, Spicy, Sea Salt, Sweet, Baked, Family Size, Sharing, Crunchy
Chips: Potato Chips, Tortilla Chips, Kettle Chips, Veggie Chips, Pita Chips
Nuts and Seeds: Almonds, Cashews, Peanuts, Trail Mix, Pumpkin Seeds, Pistachios
Crackers: Crackers, Rice Cakes, Breadsticks, Crispbread
Cookies: Chocolate Chip Cookies, Shortbread, Oat Cookies, Wafers, Biscotti
Candy: Gummy Bears, Chocolate Bar, Licorice, Mints, Caramels
Popcorn: Microwave Popcorn, Caramel Popcorn, Popcorn Kernels
Jerky: Beef Jerky, Turkey Jerky, Meat Sticks
Bakery ; Fresh, Sourdough, Whole Wheat, Gluten Free, Seeded, Artisan
Bread: Sandwich Bread, Sourdough Loaf, Baguette, Rye Bread, Brioche
Rolls and Buns: Burger Buns, Hot Dog Buns, Dinner Rolls, Bagels
Cakes: Chocolate Cake, Carrot Cake, Cheesecake, Cupcakes, Brownies
Pastries: Croissants, Danish, Cinnamon Rolls, Muffins
Tortillas and Wraps: Flour Tortillas, Corn Tortillas, Wraps, Naan, Pita Bread
Household ; Lavender, Lemon, Unscented, Eco, Concentrated, Value Pack, Extra Strong
Laundry: Laundry Detergent, Fabric Softener, Stain Remover, Laundry Pods, Dryer Sheets
Dishwashing: Dish Soap, Dishwasher Tablets, Rinse Aid, Sponges
Cleaning Supplies: All Purpose Cleaner, Glass Cleaner, Bleach, Disinfecting Wipes, Scrub Brush
Paper Goods: Paper Towels, Toilet Paper, Tissues, Napkins
Trash and Storage: Trash Bags, Food Storage Bags, Aluminum Foil, Cling Wrap, Storage Containers
Air Care: Air Freshener, Scented Candle, Reed Diffuser, Odor Eliminator
Personal Care ; Sensitive, Fragrance Free, Moisturizing, Travel Size, Natural, Whitening, Fresh, Matte, Long Lasting, Vegan, Waterproof
Hair Care: Shampoo, Conditioner, Hair Mask, Dry Shampoo, Hair Gel
Oral Care: Toothpaste, Toothbrush, Mouthwash, Dental Floss, Electric Toothbrush Heads
Body Care: Body Wash, Body Lotion, Bar Soap, Deodorant, Hand Cream
Shaving: Razor, Shaving Cream, Razor Blades, Aftershave
Skin Care: Face Wash, Moisturizer, Sunscreen, Serum, Face Mask
Feminine Care: Tampons, Pads, Panty Liners, Menstrual Cup
Makeup: Mascara, Lipstick, Foundation, Eyeliner, Blush, Concealer
Nails: Nail Polish, Nail File, Top Coat, Nail Polish Remover
Fragrance: Eau de Parfum, Body Mist, Cologne, Perfume Oil
Hair Styling: Hair Dryer, Straightener, Curling Iron, Hair Spray
Beauty Tools: Makeup Brushes, Beauty Sponge, Tweezers, Eyelash Curler
Health ; Extra Strength, Children's, Chewable, Non Drowsy, Daily, Natural
Vitamins: Multivitamin, Vitamin D, Vitamin C, Omega 3, Magnesium, Probiotics
Pain Relief: Ibuprofen, Paracetamol, Aspirin, Heat Patches, Muscle Rub
Cold and Flu: Cough Syrup, Throat Lozenges, Nasal Spray, Decongestant
First Aid: Bandages, Antiseptic Cream, Gauze, Medical Tape, Thermometer
Digestive Health: Antacid, Fiber Supplement, Digestive Enzymes
Protein Supplements: Whey Protein, Plant Protein Powder, Creatine, Amino Acids
Baby ; Sensitive, Organic, Newborn, Toddler, Hypoallergenic, Value Pack
Diapers: Diapers, Training Pants, Swim Diapers, Overnight Diapers
Baby Food: Baby Puree, Baby Cereal, Teething Biscuits, Baby Snacks
Baby Formula: Infant Formula, Follow On Formula, Toddler Milk
Baby Care: Baby Wipes, Baby Shampoo, Diaper Cream, Baby Lotion
Feeding: Baby Bottles, Sippy Cup, Bibs, Pacifier
Baby Gear: Stroller, Car Seat, Baby Carrier, High Chair
Pets ; Grain Free, Adult, Puppy, Kitten, Senior, Indoor, Natural
Dog Food: Dry Dog Food, Wet Dog Food, Dog Treats, Dental Chews
Cat Food: Dry Cat Food, Wet Cat Food, Cat Treats, Cat Milk
Pet Care: Flea Treatment, Pet Shampoo, Grooming Brush, Poop Bags
Cat Litter: Clumping Litter, Crystal Litter, Litter Tray
Pet Toys: Chew Toy, Cat Scratcher, Tennis Balls, Rope Toy
Small Animals: Hamster Food, Bird Seed, Fish Flakes, Rabbit Hay
Kitchen ; Stainless Steel, Non Stick, Cast Iron, Ceramic, Bamboo, Dishwasher Safe, Glass
Cookware: Frying Pan, Saucepan, Stock Pot, Dutch Oven, Wok
Bakeware: Baking Sheet, Muffin Tin, Cake Pan, Loaf Pan, Silicone Mat
Utensils: Spatula, Whisk, Ladle, Tongs, Peeler, Can Opener
Knives: Chef Knife, Paring Knife, Bread Knife, Knife Block, Knife Sharpener
Small Appliances: Blender, Toaster, Kettle, Coffee Maker, Air Fryer, Hand Mixer
Food Storage: Lunch Box, Water Bottle, Thermos, Mason Jars, Bento Box
Dinnerware: Dinner Plates, Bowls, Mugs, Wine Glasses, Cutlery Set
Home ; Cotton, Linen, Velvet, Modern, Rustic, Grey, Navy, Oak
Bedding: Duvet Cover, Pillow, Fitted Sheet, Weighted Blanket, Mattress Topper
Bath: Bath Towel, Bath Mat, Shower Curtain, Bathrobe
Decor: Picture Frame, Wall Clock, Vase, Throw Pillow, Mirror
Lighting: Table Lamp, Floor Lamp, LED Bulbs, String Lights, Desk Lamp
Storage and Organization: Storage Box, Shelf Unit, Laundry Basket, Hangers, Shoe Rack
Furniture: Side Table, Office Chair, Bookcase, Bar Stool, Coffee Table
Garden ; Outdoor, Weatherproof, Solar, Heavy Duty, Organic, Compact
Plants and Seeds: Flower Seeds, Vegetable Seeds, Potting Soil, Fertilizer, Houseplant
Garden Tools: Pruning Shears, Garden Hose, Trowel, Rake, Watering Can
Outdoor Furniture: Patio Chair, Garden Bench, Parasol, Hammock
Grilling: Charcoal, Gas Grill, Grill Brush, BBQ Tongs, Smoker Chips
Pest Control: Insect Repellent, Mouse Trap, Weed Killer, Slug Pellets
Electronics ; Wireless, Bluetooth, USB-C, Portable, Noise Cancelling, Fast Charging, 4K
Phone Accessories: Phone Case, Screen Protector, Charging Cable, Power Bank, Car Mount
Audio: Headphones, Earbuds, Bluetooth Speaker, Soundbar, Turntable
Computer Accessories: Keyboard, Mouse, Monitor, Webcam, USB Hub, Laptop Stand
Smart Home: Smart Plug, Smart Bulb, Video Doorbell, Smart Thermostat, Security Camera
Batteries: AA Batteries, AAA Batteries, Rechargeable Batteries, Coin Cells
TV and Video: Streaming Stick, TV Wall Mount, HDMI Cable, Projector
Gaming: Game Controller, Gaming Headset, Gaming Mouse, Console Stand
Office ; Recycled, Premium, Colorful, Refillable, Ergonomic, Bulk
Paper and Notebooks: Notebook, Printer Paper, Sticky Notes, Index Cards, Planner
Writing: Ballpoint Pens, Gel Pens, Pencils, Highlighters, Markers
Desk Supplies: Stapler, Paper Clips, Tape Dispenser, Desk Organizer, Scissors
Printing: Ink Cartridge, Toner, Label Maker, Photo Paper
Filing: File Folders, Binders, Document Wallet, Archive Box
Sports ; Lightweight, Pro, Beginner, Waterproof, Breathable, Adjustable
Fitness: Yoga Mat, Dumbbells, Resistance Bands, Kettlebell, Jump Rope, Foam Roller
Cycling: Bike Helmet, Bike Lights, Bike Lock, Cycling Gloves, Inner Tube
Running: Running Shoes, Running Socks, Armband, Hydration Vest
Camping: Tent, Sleeping Bag, Camping Stove, Headlamp, Camping Chair
Team Sports: Football, Basketball, Shin Guards, Goalkeeper Gloves, Volleyball
Swimming: Swim Goggles, Swim Cap, Swimsuit, Kickboard
Toys ; Educational, Wooden, Classic, Deluxe, Mini, Glow in the Dark
Building Sets: Building Blocks, Construction Set, Marble Run, Magnetic Tiles
Board Games: Board Game, Card Game, Jigsaw Puzzle, Chess Set, Dice Game
Dolls and Figures: Doll, Action Figure, Dollhouse, Plush Toy
Arts and Crafts: Crayons, Modeling Clay, Paint Set, Sticker Book, Craft Kit
Outdoor Toys: Water Blaster, Kite, Bubble Machine, Scooter, Sandbox Toys
`

// brandSyllables build deterministic, pronounceable brand names.
var brandStarts = []string{"Nor", "Vel", "Bright", "Green", "Sun", "Blue", "Oak", "Silver", "Pure", "True",
	"North", "Wild", "Golden", "Maple", "River", "Stone", "Happy", "Urban", "Clear", "Prime"}

var brandEnds = []string{"wind", "field", "haven", "crest", "leaf", "brook", "wood", "stone", "ridge", "light",
	"vale", "bay", "mark", "works", "co", "nest", "farm", "line", "point", "well"}

// sizes are appended to some titles for realism.
var sizes = []string{"250g", "500g", "1kg", "6 Pack", "12 Pack", "Large", "Small", "Medium", "2L", "1L", "Value Pack", "Set of 3"}

// parseTaxonomy turns taxonomySpec into departments.
func parseTaxonomy() []department {
	var out []department
	for _, line := range strings.Split(taxonomySpec, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if name, attrs, ok := strings.Cut(line, " ; "); ok {
			out = append(out, department{name: name, attributes: splitList(attrs)})
			continue
		}
		name, nouns, _ := strings.Cut(line, ":")
		d := &out[len(out)-1]
		d.aisles = append(d.aisles, aisle{name: strings.TrimSpace(name), nouns: splitList(nouns)})
	}
	return out
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
