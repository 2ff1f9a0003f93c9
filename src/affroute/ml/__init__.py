"""Predictive routing: ticket features, TicketClassifier, its compiled fast path,
evaluation and model files."""
