"""Route modules; each only translates HTTP to `AnswerService` calls and back."""
