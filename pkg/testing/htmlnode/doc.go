// Package htmlnode reads the parts of a parsed HTML node that outline
// golden files print: an attribute, the classes as .a.b, and the id and
// data- attributes as #id[data-k=v]. The report's and the dashboard's
// structure tests share it.
package htmlnode
