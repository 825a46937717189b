
mod experiment_tmp {
    use super::*;

    fn strong(card: &Card) -> Result<(), TestCaseError> {
        let fields = card.extract();
        for version in [RenderVersion::V3, RenderVersion::V4] {
            let out = card.render(version);
            let again = parse_one(&out).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(&again.extract(), &fields, "extract differs after {:?}:\n{}", version, out);
            prop_assert_eq!(again.render(version), out.clone(), "render not idempotent");
        }
        let mut same = card.clone();
        prop_assert!(!same.apply_patch(&ContactPatch::replace_all(&fields)), "replace_all changed the card");
        Ok(())
    }

    proptest! {
        #![proptest_config(crate::fuzzing::config())]
        #[test]
        fn experiment_mutated(text in mutated_fixture()) {
            for (_, _, r) in parse_many(&text) { if let Ok(c) = r { strong(&c)?; } }
        }
        #[test]
        fn experiment_assembled(text in assembled_card()) {
            for (_, _, r) in parse_many(&text) { if let Ok(c) = r { strong(&c)?; } }
        }
    }
}
