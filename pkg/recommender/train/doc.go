// Package train fits the recommender's models from interaction data:
// popularity (global and per category), item-kNN (cosine, top-k
// neighbours), implicit-feedback ALS (Hu, Koren & Volinsky 2008, solved per
// row with conjugate gradient as in Takács et al. 2011) and the assembly of
// a model.Model, whose BM25 search index is built by the model package with
// bleve.
//
// The trainers are plain functions over a Matrix so the evaluation package
// can fit them on a training split. They use every worker they are given
// and are deterministic for a seed regardless of scheduling.
package train
