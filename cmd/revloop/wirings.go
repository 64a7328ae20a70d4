package main

// The parts that serve and ingest are built from, in the order their names
// sort: API tokens, dispatcher records and the live view, gate passages and
// weighbridge tickets. Others register themselves from their own files
// (compliance, devices, fleet, routes).
func init() {
	registerWiring("accounts", wireAccounts)
	registerWiring("dispatch", wireDispatch)
	registerWiring("yard", wireYard)
}
