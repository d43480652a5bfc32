package inventory

// Observer follows the units of work of an inventory (a service in a
// region, a subscription) as they run, so a progress display can say how
// far a scan got and, above all, what the units still running are waiting
// for. Implementations must be safe for concurrent use; every method must
// return quickly.
type Observer interface {
	// Planned announces units before they start; it may be called once
	// per inventory (AWS, then Azure), adding to the total.
	Planned(units []string)
	// Attempt says that a unit is sending a request: the API operation,
	// which attempt it is (1 for the first), and why the previous attempt
	// failed (empty on the first).
	Attempt(unit, operation string, attempt int, lastErr string)
	// Finished says a unit is done, whether it succeeded or not.
	Finished(unit string)
}
