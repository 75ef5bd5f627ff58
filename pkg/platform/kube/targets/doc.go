// Package targets resolves a fault's targets on one cluster, in the
// fault's natural unit: the pods a pod kill may delete, the nodes a drain
// or a GPU failure may pick, the model store, the Chaos Mesh object, and
// the one region a cutover takes down.
//
// Targets are read live, so a dry run and a real run see the same
// cluster. A region target is checked before anything is touched (the
// regions differ, a manual cutover's switch works and is no other run's,
// the surviving region can take over, the lost region has something to
// take down) and labelled with what a cutover would touch (LabelCutover*),
// so a dry run shows it.
package targets
