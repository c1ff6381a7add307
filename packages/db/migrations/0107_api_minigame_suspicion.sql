-- Typing results that pass every check but look too good for a human (facts file: over 150 WPM, or an average
-- inter-key interval under 50 ms, is suspicious): kept and rewarded, flagged for review.
ALTER TABLE api_typing_results ADD COLUMN suspicious text[] NOT NULL DEFAULT '{}';
CREATE INDEX api_typing_results_suspicious ON api_typing_results (address, created_at)
  WHERE suspicious <> '{}';
