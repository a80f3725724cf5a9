"""Models: names -> litellm model strings, the embedded local provider, prices, dspy.LM."""
