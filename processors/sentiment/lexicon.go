package sentiment

// The lexicon: valence from -3 (very negative) to +3 (very positive), AFINN-style, tuned for
// stream chat. Words are lower case; emotes keep their case.

var words = map[string]float64{
	// positive
	"good": 2, "great": 3, "nice": 2, "love": 3, "loved": 3, "awesome": 3, "amazing": 3,
	"best": 3, "gg": 2, "ggs": 2, "wp": 2, "win": 2, "wins": 2, "won": 2, "winning": 2,
	"clean": 2, "clutch": 3, "insane": 2, "incredible": 3, "hype": 2, "pog": 2, "poggers": 2,
	"lol": 1, "lmao": 1, "haha": 1, "wow": 2, "omg": 1, "fun": 2, "funny": 2, "cool": 2,
	"beautiful": 3, "perfect": 3, "legend": 3, "goat": 3, "ez": 1, "deserved": 2, "happy": 2,
	"thanks": 2, "thank": 2, "ty": 1, "glad": 2, "wholesome": 3, "based": 1, "huge": 1,
	"sick": 1, "fire": 2, "lets": 1, "goo": 1, "vibes": 1, "well": 1, "yes": 1, "welcome": 1,
	"enjoy": 2, "enjoying": 2, "favorite": 2, "fantastic": 3, "excellent": 3, "brilliant": 3,
	// negative
	"bad": -2, "terrible": -3, "awful": -3, "horrible": -3, "worst": -3, "boring": -2,
	"bored": -2, "hate": -3, "sad": -2, "lag": -1, "laggy": -2, "broken": -2, "unlucky": -1,
	"rip": -1, "hurts": -2, "hurt": -2, "ugh": -2, "trash": -3, "cringe": -2, "lose": -2,
	"lost": -2, "losing": -2, "fail": -2, "failed": -2, "throw": -1, "throwing": -2,
	"noob": -1, "toxic": -3, "annoying": -2, "wtf": -2, "stupid": -2, "dumb": -2,
	"sucks": -3, "suck": -2, "rigged": -2, "cheater": -3, "cheating": -3, "scam": -3,
	"again": -0.5, "tilted": -2, "disappointed": -2, "disappointing": -2, "dead": -1,
}

// negations flip the next sentiment word within a few tokens.
var negations = map[string]bool{
	"not": true, "no": true, "never": true, "dont": true, "don't": true, "isnt": true,
	"isn't": true, "wasnt": true, "wasn't": true, "cant": true, "can't": true, "wont": true,
	"won't": true, "aint": true, "ain't": true, "doesnt": true, "doesn't": true,
	"didnt": true, "didn't": true, "nothing": true, "hardly": true,
}

// intensifiers strengthen the next sentiment word.
var intensifiers = map[string]bool{
	"very": true, "really": true, "so": true, "super": true, "extremely": true,
	"absolutely": true, "totally": true, "too": true, "incredibly": true, "hella": true,
	"mega": true, "truly": true, "most": true,
}

// emotes carry valence too; matched case-sensitively.
var emotes = map[string]float64{
	"PogChamp": 3, "Pog": 3, "PogU": 3, "Kreygasm": 2, "SeemsGood": 2, "HeyGuys": 1,
	"VoHiYo": 1, "LUL": 2, "KEKW": 2, "4Head": 1, "TriHard": 1, "catJAM": 2, "EZ": 1,
	"<3":         2,
	"BibleThump": -2, "NotLikeThis": -2, "ResidentSleeper": -2, "DansGame": -2,
	"WutFace": -1, "FailFish": -2, "BabyRage": -2, "PepeHands": -2, "monkaS": -1,
	"SwiftRage": -2,
	// Kappa, CoolStoryBob, Jebaited: sarcasm or trolling, no reliable valence
}
