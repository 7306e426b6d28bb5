"""Side-by-side snippets (see idioms.py) for deeplake's string filters:
``ds.filter("labels == 'dog'")``, evaluated per sample."""

from __future__ import annotations

QUERY_CORPUS: dict[str, str] = {}

QUERY_CORPUS["filter_strings"] = """
ds = deeplake.empty(argv[0], overwrite=True)
ds.create_tensor("labels", htype="class_label", class_names=["cat", "dog", "bird"])
ds.create_tensor("x", dtype="float32")
ds.create_tensor("caption", htype="text")
ds.create_group("extra")
ds.extra.create_tensor("score", dtype="int32")
ds.extend({
    "labels": [0, 1, [1, 2], 0, 2],
    "x": [np.array([1, 2], np.float32), np.array([3], np.float32), np.array([0, 0, 9], np.float32),
          np.array([5, 5], np.float32), np.array([2], np.float32)],
    "caption": ["a cat", "a dog", "dog and bird", "cat", ""],
    "extra/score": [[1], [7], [3], [9], [4]],
})
queries = [
    "labels == 'dog'", "labels == 0", "labels.contains('bird')", "labels == ['dog', 'bird']",
    "x.max > 2", "x.mean >= 2 and x.size == 2", "x.size == 1 or labels == 'cat'",
    "not labels == 'cat'", "caption == 'cat'", "caption == ''", "extra.score > 3",
    "extra.score % 2 == 1", "extra.score + x.min >= 8", "x.shape[0] == 3",
    "labels != 'dog'",
]
result = {q: ds.filter(q).x.numpy(aslist=True)[0].tolist() if len(ds.filter(q)) else []
          for q in queries}
result["lengths"] = [len(ds.filter(q)) for q in queries]
# (not a view's filter: deeplake 3.9.52's ds[1:4].filter("labels == 'dog'") returns samples
# shifted by the view's start, 'dog and bird' and 'cat'; shoal returns 'a dog', 'dog and bird')
"""
