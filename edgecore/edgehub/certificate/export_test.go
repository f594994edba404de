package certificate

// SetAfterStep makes m call f after each step of saving a certificate set,
// so a test can stop the process between two steps.
func SetAfterStep(m *Manager, f func(step string)) { m.files.afterStep = f }
