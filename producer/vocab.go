package producer

import "github.com/telemetra/telemetra/schemas"

// The vocabulary the simulation draws from. Kept in one place so a reader can see what the
// mock chat "sounds like" and tests can check the producer only uses these values.

// Emotes are the 23 popular Twitch emotes of the seed, grouped by the mood they usually carry.
var (
	positiveEmotes = []string{"PogChamp", "Kreygasm", "SeemsGood", "HeyGuys", "VoHiYo", "LUL", "KEKW", "4Head", "TriHard", "catJAM"}
	negativeEmotes = []string{"BibleThump", "NotLikeThis", "ResidentSleeper", "DansGame", "WutFace", "FailFish", "BabyRage", "PepeHands", "monkaS", "SwiftRage"}
	neutralEmotes  = []string{"Kappa", "CoolStoryBob", "Jebaited"}
)

// Emotes returns all 23 emotes the producer uses.
func Emotes() []string {
	all := make([]string, 0, len(positiveEmotes)+len(negativeEmotes)+len(neutralEmotes))
	all = append(all, positiveEmotes...)
	all = append(all, negativeEmotes...)
	return append(all, neutralEmotes...)
}

// categories are 20 popular game categories.
var categories = []string{
	"Just Chatting", "League of Legends", "Grand Theft Auto V", "Valorant", "Counter-Strike 2",
	"Minecraft", "Fortnite", "World of Warcraft", "Apex Legends", "Dota 2",
	"Elden Ring", "Overwatch 2", "Call of Duty: Warzone", "Hearthstone", "Rocket League",
	"Teamfight Tactics", "Dead by Daylight", "Baldur's Gate 3", "Music", "Art",
}

var titles = []string{
	"Chill vibes and good times", "Ranked grind to the top", "First playthrough, no spoilers",
	"Road to 1000 wins", "Viewer games all night", "Speedrun attempts", "Late night chill stream",
	"Learning new strats", "Tournament practice", "Birthday stream!", "Variety day",
	"Sub goal grind", "Hardcore mode", "Community night", "Patch day hype",
}

// Chat lines per sentiment hint. Some lines use negation ("not bad") and intensifiers
// ("really good") so the processors' sentiment scoring has something to get right.
var chatLines = map[schemas.Sentiment][]string{
	schemas.SentimentPositive: {
		"great play", "love this stream", "nice one", "gg well played", "this is awesome",
		"so good", "really good stream today", "not bad at all", "you are the best", "amazing clutch",
		"that was clean", "love the music", "very nice", "good vibes only", "well deserved win",
	},
	schemas.SentimentNegative: {
		"that was terrible", "so boring", "not again", "this is bad", "ugh the lag",
		"worst run ever", "not good", "really bad decision", "that hurts", "so sad",
		"this game is broken", "unlucky", "rip", "that was awful", "I hate this map",
	},
	schemas.SentimentNeutral: {
		"hi chat", "just got here", "brb", "first time watching", "back", "hello from Germany",
		"lurking", "ok", "gonna grab food", "watching from work", "morning everyone", "good night chat",
	},
	schemas.SentimentExcited: {
		"That was insane!", "LETS GOOO", "OMG", "HYPE", "no way!!", "CLUTCH", "what a play!!",
		"INSANE", "huge win!", "absolutely incredible",
	},
	schemas.SentimentQuestion: {
		"what rank is this?", "what's the song?", "how long have you been live?", "what game is this?",
		"when is the next stream?", "what settings do you use?", "is this a new map?", "who is winning?",
	},
}

// sentimentHints in the order used for weighted draws, with their base weights; hype scales
// the weight of excitedHint.
var (
	sentimentHints = []schemas.Sentiment{
		schemas.SentimentPositive, schemas.SentimentNegative, schemas.SentimentNeutral, schemas.SentimentExcited, schemas.SentimentQuestion,
	}
	sentimentWeights = []float64{0.30, 0.15, 0.25, 0.15, 0.15}
)

const excitedHint = 3 // index of SentimentExcited in sentimentHints

// Badges a chatter may wear.
var badges = []schemas.Badge{schemas.BadgeSubscriber, schemas.BadgeModerator, schemas.BadgeVIP, schemas.BadgePartner}

var (
	nameAdjectives = []string{"happy", "dark", "swift", "lazy", "crazy", "silent", "mighty", "tiny", "epic", "salty", "cozy", "based"}
	nameNouns      = []string{"gamer", "wolf", "ninja", "potato", "panda", "knight", "fox", "pixel", "dragon", "noob", "viking", "owl"}
)
