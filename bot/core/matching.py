"""Maximum-weight matching in a general graph: Edmonds' blossom algorithm, O(n³), pure Python.

Pairing people is a matching problem on a *general* graph (anyone may meet anyone), so the
bipartite tools (Hungarian method) do not apply, and a greedy pairing is measurably worse: it
grabs the best pair first and strands people who then have only bad partners left. This module
is the exact algorithm, written for Funkel from the literature:

- J. Edmonds, "Paths, trees, and flowers" (1965) — blossoms;
- H. N. Gabow, "An efficient implementation of Edmonds' algorithm for maximum matching on
  graphs" (1976) and Z. Galil, "Efficient algorithms for finding maximum matching in graphs"
  (ACM Computing Surveys, 1986) — the primal-dual O(n³) scheme with least-slack edges per
  blossom that is used here.

It has no third-party dependency (the runtime has only aiosqlite and PyYAML); the tests check it
against networkx and against brute force.

How it works, in one paragraph: every vertex has a dual variable and every odd set of vertices
that was shrunk into a *blossom* has one too. An edge is *tight* when its slack (the duals of its
endpoints minus twice its weight) is zero. Each *stage* grows alternating trees from all
unmatched vertices along tight edges: a tight edge between two trees is an augmenting path (the
matching grows by one), a tight edge inside one tree closes an odd cycle, which is shrunk into a
blossom. When no tight edge is left, the duals move by the largest step ``delta`` that keeps
every slack non-negative, which makes a new edge tight, or lets a blossom be expanded again.
When the duals of unmatched vertices reach zero, no augmentation can add weight and the matching
is optimal (complementary slackness). With ``maxcardinality`` the algorithm ignores that stop
and goes on while any augmenting path exists.

Exactness: with integer weights every dual stays an integer (slack between two outer vertices is
always even), so the result is exact; callers that need exact answers (``bot.core.pairing``)
pass integers. Float weights work too, with the usual floating-point caveats.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["matching_weight", "max_weight_matching"]

# Labels of top-level blossoms (and of single vertices) in the alternating forest.
_FREE = 0  # not in any tree
_OUTER = 1  # "S": even distance from a root; its vertices are scanned
_INNER = 2  # "T": odd distance from a root; entered by a non-matching edge

_Pair = tuple[int, int]


def max_weight_matching(
    n: int, edges: Iterable[tuple[int, int, float]], maxcardinality: bool = False
) -> list[int]:
    """A maximum-weight matching of the graph with vertices ``0..n-1``.

    Returns the mate array: ``mate[v]`` is the vertex matched to ``v``, or ``-1``. With
    ``maxcardinality`` the matching has the most edges possible and, among those, the most
    weight; without it, edges that only lower the total (weight ≤ 0) are never taken.

    Parallel edges keep the heaviest; self-loops and vertices out of range are errors, because
    they are always a caller's bug (a person paired with themselves).
    """
    if n < 0:
        raise ValueError(f"n must be non-negative, got {n}")
    best: dict[_Pair, float] = {}
    for i, j, w in edges:
        if not (0 <= i < n and 0 <= j < n):
            raise ValueError(f"edge ({i}, {j}) has a vertex outside 0..{n - 1}")
        if i == j:
            raise ValueError(f"edge ({i}, {j}) is a self-loop")
        key = (i, j) if i < j else (j, i)
        if key not in best or w > best[key]:
            best[key] = w
    if not best:
        return [-1] * n
    solver = _Blossoms(
        n,
        [k[0] for k in best],
        [k[1] for k in best],
        list(best.values()),
        maxcardinality,
    )
    solver.solve()
    return solver.mate


def matching_weight(mate: list[int], edges: Iterable[tuple[int, int, float]]) -> float:
    """The total weight of the matched edges (the heaviest, if an edge is listed twice)."""
    best: dict[_Pair, float] = {}
    for i, j, w in edges:
        key = (i, j) if i < j else (j, i)
        if key not in best or w > best[key]:
            best[key] = w
    return sum(w for (i, j), w in best.items() if mate[i] == j)


class _Blossoms:
    """State of one run. Vertices are ``0..n-1``; blossoms get ids ``n..2n-1``.

    Per top-level blossom ``b`` (a vertex is a trivial blossom of itself):

    - ``label[b]`` is FREE/OUTER/INNER; ``label_edge[b]`` is the edge ``(x, y)`` through which
      it got its label, ``x`` outside and ``y`` inside (None for a tree root). For a single
      vertex inside an inner blossom, an INNER ``label`` with its edge records that an outer
      vertex reaches it by a tight edge, needed when that blossom is expanded.
    - ``children[b]`` lists its sub-blossoms around the odd cycle, starting with the one that
      holds the base; ``links[b][i]`` is the edge ``(x, y)`` joining ``children[i]`` (x) to
      ``children[i + 1]`` (y), cyclically. Links at odd positions are matched.
    - ``best_edge[b]`` is the least-slack edge to another outer blossom (for outer ``b``) or to
      an outer blossom (for free vertices): this is what makes each stage O(n²) instead of
      O(m·n). ``best_list[b]`` keeps one such edge per neighbouring outer blossom, so that
      merging blossoms does not rescan all their edges.
    """

    def __init__(
        self, n: int, eu: list[int], ev: list[int], ew: list[float], maxcardinality: bool
    ) -> None:
        self.n = n
        self.eu = eu
        self.ev = ev
        self.ew = ew
        self.maxcardinality = maxcardinality
        # Integer weights keep every dual integral, so halving a slack must stay exact.
        self.integral = all(isinstance(w, int) for w in ew)
        self.adj: list[list[int]] = [[] for _ in range(n)]
        for k in range(len(eu)):
            self.adj[eu[k]].append(k)
            self.adj[ev[k]].append(k)

        size = 2 * n
        self.mate = [-1] * n
        self.label = [_FREE] * size
        self.label_edge: list[_Pair | None] = [None] * size
        self.top = list(range(n))  # the top-level blossom that holds each vertex
        self.parent = [-1] * size
        self.children: list[list[int]] = [[] for _ in range(size)]
        self.links: list[list[_Pair]] = [[] for _ in range(size)]
        self.base = list(range(n)) + [-1] * n
        self.best_edge = [-1] * size
        self.best_list: list[list[int] | None] = [None] * size
        self.unused = list(range(size - 1, n - 1, -1))  # pop() hands out n first
        start = max(0, *ew) if ew else 0
        self.dual: list[float] = [start] * n + [0] * n
        self.tight = [False] * len(eu)
        self.queue: list[int] = []
        self.mark = [False] * size

    # --- small helpers ---------------------------------------------------------------

    def slack(self, k: int) -> float:
        return self.dual[self.eu[k]] + self.dual[self.ev[k]] - 2 * self.ew[k]

    def leaves(self, b: int) -> list[int]:
        """The vertices inside blossom ``b`` (``[b]`` for a vertex)."""
        if b < self.n:
            return [b]
        out: list[int] = []
        stack = [b]
        while stack:
            t = stack.pop()
            if t < self.n:
                out.append(t)
            else:
                stack.extend(self.children[t])
        return out

    def assign_label(self, w: int, label: int, v: int) -> None:
        """Label the blossom of ``w``, entered from ``v`` (``-1`` for a root).

        An inner blossom's base is always matched, and its mate becomes outer at once: that is
        how trees grow two levels per tight edge.
        """
        while True:
            b = self.top[w]
            edge = (v, w) if v >= 0 else None
            self.label[w] = self.label[b] = label
            self.label_edge[w] = self.label_edge[b] = edge
            self.best_edge[w] = self.best_edge[b] = -1
            if label == _OUTER:
                self.queue.extend(self.leaves(b))
                return
            base = self.base[b]
            w, label, v = self.mate[base], _OUTER, base

    def next_outer(self, b: int) -> int:
        """The outer vertex one level up the tree from outer blossom ``b`` (``-1`` at a root)."""
        edge = self.label_edge[b]
        if edge is None:
            return -1
        inner = self.top[edge[0]]
        inner_edge = self.label_edge[inner]
        assert inner_edge is not None
        return inner_edge[0]

    def find_common_base(self, v: int, w: int) -> int:
        """Walk up from two outer vertices joined by a tight edge.

        Returns the base of the lowest common outer blossom if they are in the same tree (an odd
        cycle: a new blossom), or ``-1`` if they reach two different roots (an augmenting path).
        The two walks alternate, so the cost is proportional to the shorter path.
        """
        path: list[int] = []
        base = -1
        while v != -1 or w != -1:
            if v != -1:
                b = self.top[v]
                if self.mark[b]:
                    base = self.base[b]
                    break
                self.mark[b] = True
                path.append(b)
                v = self.next_outer(b)
            if w != -1:
                v, w = w, v
        for b in path:
            self.mark[b] = False
        return base

    # --- blossoms ----------------------------------------------------------------------

    def add_blossom(self, base: int, v: int, w: int) -> None:
        """Shrink the odd cycle closed by the tight edge ``(v, w)`` into a new outer blossom."""
        top, parent, label_edge = self.top, self.parent, self.label_edge
        base_child = top[base]
        b = self.unused.pop()
        self.base[b] = base
        parent[b] = -1
        parent[base_child] = b

        def path_to_base(x: int) -> list[int]:
            path = []
            c = top[x]
            while c != base_child:
                parent[c] = b
                path.append(c)
                edge = label_edge[c]
                assert edge is not None
                c = top[edge[0]]
            return path

        down = path_to_base(v)[::-1]  # from just below the base down to v's blossom
        up = path_to_base(w)  # from w's blossom up to just below the base
        self.children[b] = [base_child, *down, *up]
        links: list[_Pair] = []
        for c in down:
            edge = label_edge[c]
            assert edge is not None
            links.append(edge)
        links.append((v, w))
        for c in up:
            edge = label_edge[c]
            assert edge is not None
            links.append((edge[1], edge[0]))
        self.links[b] = links

        self.label[b] = _OUTER
        label_edge[b] = label_edge[base_child]
        self.dual[b] = 0
        for x in self.leaves(b):
            if self.label[top[x]] == _INNER:
                # Inner vertices become outer inside the blossom: scan them now.
                self.queue.append(x)
            top[x] = b

        # Least-slack edges from the new blossom to each neighbouring outer blossom.
        eu, ev = self.eu, self.ev
        best_to: dict[int, int] = {}
        for c in self.children[b]:
            known = self.best_list[c] if c >= self.n else None
            if known is None:  # a vertex, or a blossom that was inner: look at all its edges
                known = [k for x in self.leaves(c) for k in self.adj[x]]
            for k in known:
                i, j = eu[k], ev[k]
                if top[j] == b:
                    i, j = j, i
                other = top[j]
                if other != b and self.label[other] == _OUTER:
                    current = best_to.get(other, -1)
                    if current == -1 or self.slack(k) < self.slack(current):
                        best_to[other] = k
            self.best_list[c] = None
            self.best_edge[c] = -1
        best_list = list(best_to.values())
        self.best_list[b] = best_list
        best = -1
        for k in best_list:
            if best == -1 or self.slack(k) < self.slack(best):
                best = k
        self.best_edge[b] = best

    def expand_blossom(self, b: int, end_of_stage: bool) -> None:
        """Dissolve blossom ``b`` into its sub-blossoms.

        Mid-stage this happens to an inner blossom whose dual reached zero: its sub-blossoms on
        the even path from the entry to the base keep the tree alternating (inner, outer, ...),
        the others become free unless an outer vertex already reaches them by a tight edge. At
        the end of a stage, outer blossoms with zero dual are dissolved recursively.
        """
        top, label, label_edge = self.top, self.label, self.label_edge
        for s in self.children[b]:
            self.parent[s] = -1
            if s < self.n:
                top[s] = s
            elif end_of_stage and self.dual[s] == 0:
                self.expand_blossom(s, end_of_stage)
            else:
                for x in self.leaves(s):
                    top[x] = s

        if not end_of_stage and label[b] == _INNER:
            entry_edge = label_edge[b]
            assert entry_edge is not None
            children, links = self.children[b], self.links[b]
            entry_child = top[entry_edge[1]]
            j = children.index(entry_child)
            # Go the way round that reaches the base after an even number of links.
            if j & 1:
                j -= len(children)
                step = 1
            else:
                step = -1
            edge = entry_edge
            while j != 0:
                self.assign_label(edge[1], _INNER, edge[0])  # its mate becomes outer
                j += step
                if step == 1:
                    edge = links[j]
                else:
                    x, y = links[j - 1]
                    edge = (y, x)
                j += step
            # The base sub-blossom is inner; its mate is outside, already outer.
            base_child = children[j]
            label[edge[1]] = label[base_child] = _INNER
            label_edge[edge[1]] = label_edge[base_child] = edge
            self.best_edge[base_child] = -1
            # The rest of the cycle: free, unless an outer vertex reaches it by a tight edge.
            j += step
            while children[j] != entry_child:
                child = children[j]
                if label[child] != _OUTER:
                    for x in self.leaves(child):
                        if label[x] != _FREE:
                            reached_from = label_edge[x]
                            assert reached_from is not None
                            label[x] = _FREE
                            self.assign_label(x, _INNER, reached_from[0])
                            break
                j += step

        label[b] = _FREE
        label_edge[b] = None
        self.children[b] = []
        self.links[b] = []
        self.base[b] = -1
        self.best_edge[b] = -1
        self.best_list[b] = None
        self.unused.append(b)

    def rotate_matching(self, b: int, v: int) -> None:
        """Flip matched and unmatched links inside ``b`` so that vertex ``v`` becomes its base.

        The even path from ``v``'s sub-blossom to the old base alternates; flipping it leaves
        ``v`` without a partner inside ``b`` (the caller matches it outside).
        """
        t = v
        while self.parent[t] != b:
            t = self.parent[t]
        if t >= self.n:
            self.rotate_matching(t, v)
        children, links = self.children[b], self.links[b]
        i = j = children.index(t)
        if i & 1:
            j -= len(children)
            step = 1
        else:
            step = -1
        while j != 0:
            j += step
            if step == 1:
                x, y = links[j]
            else:
                y, x = links[j - 1]
            if children[j] >= self.n:
                self.rotate_matching(children[j], x)
            j += step
            if children[j] >= self.n:
                self.rotate_matching(children[j], y)
            self.mate[x] = y
            self.mate[y] = x
        self.children[b] = children[i:] + children[:i]
        self.links[b] = links[i:] + links[:i]
        self.base[b] = self.base[self.children[b][0]]
        assert self.base[b] == v

    def augment(self, v: int, w: int) -> None:
        """Match along the augmenting path root(v) … v — w … root(w)."""
        for s, j in ((v, w), (w, v)):
            while True:
                bs = self.top[s]
                if bs >= self.n:
                    self.rotate_matching(bs, s)
                self.mate[s] = j
                edge = self.label_edge[bs]
                if edge is None:
                    break  # reached the root, which was unmatched
                bt = self.top[edge[0]]
                inner_edge = self.label_edge[bt]
                assert inner_edge is not None
                s, j = inner_edge
                if bt >= self.n:
                    self.rotate_matching(bt, j)
                self.mate[j] = s

    # --- the main loop -------------------------------------------------------------------

    def scan(self) -> bool:
        """Grow the forest along tight edges; True once the matching was augmented."""
        # The hot loop: slack is inlined and attributes are bound to locals on purpose.
        top, label, eu, ev, ew = self.top, self.label, self.eu, self.ev, self.ew
        tight, best_edge, dual, adj = self.tight, self.best_edge, self.dual, self.adj
        queue = self.queue
        while queue:
            v = queue.pop()
            dv = dual[v]
            for k in adj[v]:
                w = ev[k] if eu[k] == v else eu[k]
                bv, bw = top[v], top[w]
                if bv == bw:
                    continue
                slack = 0.0
                if not tight[k]:
                    slack = dv + dual[w] - 2 * ew[k]
                    if slack <= 0:
                        tight[k] = True
                if tight[k]:
                    if label[bw] == _FREE:
                        self.assign_label(w, _INNER, v)
                    elif label[bw] == _OUTER:
                        base = self.find_common_base(v, w)
                        if base >= 0:
                            self.add_blossom(base, v, w)
                        else:
                            self.augment(v, w)
                            return True
                    elif label[w] == _FREE:
                        label[w] = _INNER
                        self.label_edge[w] = (v, w)
                elif label[bw] == _OUTER:
                    best = best_edge[bv]
                    if best == -1 or slack < dual[eu[best]] + dual[ev[best]] - 2 * ew[best]:
                        best_edge[bv] = k
                elif label[w] == _FREE:
                    best = best_edge[w]
                    if best == -1 or slack < dual[eu[best]] + dual[ev[best]] - 2 * ew[best]:
                        best_edge[w] = k
        return False

    def adjust_duals(self) -> bool:
        """Move the duals by the largest safe step; False when the matching is optimal."""
        n, label, top, dual = self.n, self.label, self.top, self.dual
        kind, delta, edge, blossom = 0, 0.0, -1, -1
        if not self.maxcardinality:
            # An unmatched vertex with zero dual cannot gain anything: stop there.
            kind, delta = 1, min(dual[:n])
        for v in range(n):
            k = self.best_edge[v]
            if label[top[v]] == _FREE and k != -1:
                d = self.slack(k)
                if kind == 0 or d < delta:
                    kind, delta, edge = 2, d, k
        for b in range(2 * n):
            k = self.best_edge[b]
            if self.parent[b] == -1 and label[b] == _OUTER and k != -1:
                slack = self.slack(k)
                d = slack // 2 if self.integral else slack / 2
                if kind == 0 or d < delta:
                    kind, delta, edge = 3, d, k
        for b in range(n, 2 * n):
            if (
                self.base[b] >= 0
                and self.parent[b] == -1
                and label[b] == _INNER
                and (kind == 0 or dual[b] < delta)
            ):
                kind, delta, blossom = 4, dual[b], b
        if kind == 0:
            return False  # maxcardinality: no augmenting path is left

        for v in range(n):
            if label[top[v]] == _OUTER:
                dual[v] -= delta
            elif label[top[v]] == _INNER:
                dual[v] += delta
        for b in range(n, 2 * n):
            if self.base[b] >= 0 and self.parent[b] == -1:
                if label[b] == _OUTER:
                    dual[b] += delta
                elif label[b] == _INNER:
                    dual[b] -= delta

        if kind == 1:
            return False
        if kind == 2:
            self.tight[edge] = True
            i = self.eu[edge]
            if label[top[i]] == _FREE:
                i = self.ev[edge]
            self.queue.append(i)
        elif kind == 3:
            self.tight[edge] = True
            self.queue.append(self.eu[edge])
        else:
            self.expand_blossom(blossom, False)
        return True

    def solve(self) -> None:
        n = self.n
        for _stage in range(n):
            # A fresh forest: every unmatched vertex is the root of its own tree.
            for b in range(2 * n):
                self.label[b] = _FREE
                self.best_edge[b] = -1
            for b in range(n, 2 * n):
                self.best_list[b] = None
            self.tight = [False] * len(self.eu)
            self.queue.clear()
            for v in range(n):
                if self.mate[v] == -1 and self.label[self.top[v]] == _FREE:
                    self.assign_label(v, _OUTER, -1)

            augmented = False
            while True:
                if self.scan():
                    augmented = True
                    break
                if not self.adjust_duals():
                    break
            if not augmented:
                return
            for b in range(n, 2 * n):
                if (
                    self.parent[b] == -1
                    and self.base[b] >= 0
                    and self.label[b] == _OUTER
                    and self.dual[b] == 0
                ):
                    self.expand_blossom(b, True)
