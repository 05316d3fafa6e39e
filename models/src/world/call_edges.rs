//! A replica's call plan as edge ids: per endpoint, the edges of its plan in order, in one
//! allocation (one cache line for a short plan) instead of a vector of vectors.

use super::EdgeId;

/// Per endpoint, the edge ids of a replica's call plan, in plan order. `plan[endpoint]` is the
/// endpoint's edges, as a `Vec<Vec<EdgeId>>` would give them.
///
/// A replica with one endpoint whose plan has at most [`INLINE`] calls (the common case) keeps
/// them in its own record; others keep all plans in one allocation, flat: the first
/// `endpoints + 1` entries are the boundaries (as `EdgeId`s holding offsets into the same
/// slice), then the edges of every endpoint in turn. Reading a plan costs no extra cache line
/// or one, where the nested vectors took two (issue 11).
pub(super) enum CallEdges {
    /// The one endpoint's plan.
    Single {
        len: u8,
        edges: [EdgeId; INLINE],
    },
    Flat(Box<[EdgeId]>),
}

/// The calls a one-endpoint plan keeps inline.
pub(super) const INLINE: usize = 5;

impl CallEdges {
    /// The plans of the endpoints in order.
    pub(super) fn new(per_endpoint: Vec<Vec<EdgeId>>) -> CallEdges {
        if let [plan] = &per_endpoint[..]
            && plan.len() <= INLINE
        {
            let mut edges = [EdgeId(0); INLINE];
            edges[..plan.len()].copy_from_slice(plan);
            return CallEdges::Single {
                len: plan.len() as u8,
                edges,
            };
        }
        let header = per_endpoint.len() + 1;
        let total = header + per_endpoint.iter().map(Vec::len).sum::<usize>();
        let offset = |o: usize| EdgeId(u32::try_from(o).expect("fewer than 2^32 call edges"));
        let mut flat = Vec::with_capacity(total);
        let mut end = header;
        flat.push(offset(end));
        for plan in &per_endpoint {
            end += plan.len();
            flat.push(offset(end));
        }
        for plan in per_endpoint {
            flat.extend(plan);
        }
        debug_assert_eq!(flat.len(), total);
        CallEdges::Flat(flat.into_boxed_slice())
    }

    /// How many endpoints have a plan here.
    #[cfg(test)]
    fn endpoints(&self) -> usize {
        match self {
            CallEdges::Single { .. } => 1,
            CallEdges::Flat(flat) => flat[0].0 as usize - 1,
        }
    }
}

impl std::ops::Index<usize> for CallEdges {
    type Output = [EdgeId];

    #[inline(always)]
    fn index(&self, endpoint: usize) -> &[EdgeId] {
        match self {
            CallEdges::Single { len, edges } => {
                assert!(endpoint == 0, "endpoint {endpoint} has no plan");
                &edges[..usize::from(*len)]
            }
            CallEdges::Flat(flat) => flat_plan(flat, endpoint),
        }
    }
}

/// An endpoint's plan in the flat form.
fn flat_plan(flat: &[EdgeId], endpoint: usize) -> &[EdgeId] {
    // The header's first entry bounds the endpoint; both boundaries in one bounds check.
    assert!(
        endpoint + 1 < flat[0].0 as usize,
        "endpoint {endpoint} has no plan"
    );
    let bounds = &flat[endpoint..endpoint + 2];
    &flat[bounds[0].0 as usize..bounds[1].0 as usize]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(v: &[u32]) -> Vec<EdgeId> {
        v.iter().map(|&e| EdgeId(e)).collect()
    }

    #[test]
    fn each_endpoint_reads_back_its_plan() {
        let plans = vec![ids(&[7, 3]), ids(&[]), ids(&[9]), ids(&[1, 2, 4, 5])];
        let flat = CallEdges::new(plans.clone());
        assert_eq!(flat.endpoints(), 4);
        for (endpoint, plan) in plans.iter().enumerate() {
            assert_eq!(&flat[endpoint], &plan[..], "endpoint {endpoint}");
        }
        let none = CallEdges::new(vec![ids(&[])]);
        assert_eq!(none.endpoints(), 1);
        assert!(none[0].is_empty());
    }

    #[test]
    fn one_short_plan_is_inline_and_others_are_flat() {
        // The common plan: one endpoint, one call.
        let one = CallEdges::new(vec![ids(&[42])]);
        assert!(matches!(one, CallEdges::Single { len: 1, .. }));
        assert_eq!(&one[0], &ids(&[42])[..]);
        let five = CallEdges::new(vec![ids(&[1, 2, 3, 4, 5])]);
        assert!(matches!(five, CallEdges::Single { len: 5, .. }));
        assert_eq!(&five[0], &ids(&[1, 2, 3, 4, 5])[..]);
        let six = CallEdges::new(vec![ids(&[1, 2, 3, 4, 5, 6])]);
        assert!(matches!(six, CallEdges::Flat(_)));
        assert_eq!(&six[0], &ids(&[1, 2, 3, 4, 5, 6])[..]);
        let two = CallEdges::new(vec![ids(&[1]), ids(&[2])]);
        assert!(matches!(two, CallEdges::Flat(_)));
        assert_eq!((&two[0], &two[1]), (&ids(&[1])[..], &ids(&[2])[..]));
        assert_eq!(std::mem::size_of::<CallEdges>(), 24);
    }
}
