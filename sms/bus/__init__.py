"""The event bus: versioned event models, topics, in-memory and MQTT transports."""
