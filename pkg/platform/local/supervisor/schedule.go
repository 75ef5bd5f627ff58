package supervisor

import "fmt"

// pickNode returns the schedulable node with the fewest replicas (the first
// in order on a tie): not off (cordoned, or its GPU lost) and below
// podsPerNode.
func pickNode(nodes []Node, off map[string]bool, load map[string]int, podsPerNode int) (Node, bool) {
	best, found := Node{}, false
	for _, n := range nodes {
		if off[n.Name] || load[n.Name] >= podsPerNode {
			continue
		}
		if !found || load[n.Name] < load[best.Name] {
			best, found = n, true
		}
	}
	return best, found
}

// replicaName names the seq-th replica of a region.
func replicaName(region string, seq int) string {
	return fmt.Sprintf("recommender-%s-%d", region, seq)
}

// BuildNodes returns a region's simulated nodes: zones a, b, c in turn and
// a GPU on the first gpuNodes.
func BuildNodes(region string, nodes, gpuNodes int) []Node {
	out := make([]Node, 0, nodes)
	for i := range nodes {
		zone := fmt.Sprintf("%s-%c", region, 'a'+rune(i%3))
		gpu := i < gpuNodes
		n := Node{Name: fmt.Sprintf("node-%s-%d", region, i+1), Region: region, Zone: zone, GPU: gpu}
		n.Labels = map[string]string{LabelRegion: region, LabelZone: zone, LabelGPU: fmt.Sprint(gpu), "kubernetes.io/hostname": n.Name}
		out = append(out, n)
	}
	return out
}

// replicaLabels are the pod labels of a replica on node n.
func replicaLabels(n Node) map[string]string {
	return map[string]string{
		LabelApp: "recommender", LabelRegionShort: n.Region, LabelZoneShort: n.Zone, LabelNode: n.Name,
		LabelRegion: n.Region, LabelZone: n.Zone, LabelGPU: fmt.Sprint(n.GPU),
	}
}

// InitialPlacement is where the initial replicas of every region go, as
// Start places them; it lets a dry run show targets without starting
// anything.
func InitialPlacement(regions []Region) []Replica {
	var out []Replica
	for _, r := range regions {
		load := map[string]int{}
		for i := range r.Replicas {
			n, ok := pickNode(r.Nodes, nil, load, r.PodsPerNode)
			if !ok {
				break
			}
			load[n.Name]++
			out = append(out, Replica{Name: replicaName(r.Name, i+1), Region: r.Name, Node: n.Name, Zone: n.Zone, GPU: n.GPU, Labels: replicaLabels(n), Phase: PhasePending})
		}
	}
	return out
}
