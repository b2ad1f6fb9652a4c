
/// Every value in values.yaml is documented: a `# --` comment right above its key, or above the
/// map it belongs to when the whole map is one value (e.g. `resources`, `podSecurityContext`).
#[test]
fn every_value_in_values_yaml_is_documented() {
    let text = std::fs::read_to_string(chart().join("values.yaml")).unwrap();
    // (indent, documented) of the keys enclosing the current line.
    let mut ancestors: Vec<(usize, bool)> = Vec::new();
    let mut commented = false;
    let mut undocumented = Vec::new();
    for line in text.lines() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        if trimmed.starts_with("# --") {
            commented = true;
            continue;
        }
        if trimmed.starts_with('#') {
            continue; // continuation of a comment
        }
        if trimmed.is_empty() || trimmed.starts_with('-') {
            commented = false;
            continue;
        }
        let Some((key, value)) = trimmed.split_once(':') else {
            continue;
        };
        while ancestors.last().is_some_and(|(i, _)| *i >= indent) {
            ancestors.pop();
        }
        let covered = commented || ancestors.iter().any(|(_, documented)| *documented);
        if !value.trim().is_empty() && !covered {
            undocumented.push(key.to_string());
        }
        ancestors.push((indent, commented));
        commented = false;
    }
    assert!(undocumented.is_empty(), "values without a `# --` comment: {undocumented:?}");
}
