//! Paged lists: every list on the kiosk shows a fixed number of rows per
//! page (fewer in large mode) with 上一页 / 下一页.

/// How many pages `count` items take, `per_page` to a page; an empty list
/// is one empty page.
pub fn pages(count: usize, per_page: usize) -> usize {
    count.div_ceil(per_page.max(1)).max(1)
}

/// The page `step` pages away from `page`, kept within `0..pages`.
pub fn turn(page: usize, step: i32, pages: usize) -> usize {
    let target = page as i64 + i64::from(step);
    target.clamp(0, pages.max(1) as i64 - 1) as usize
}

/// The page of a paged list to show: the one asked for, or the last one if
/// the list has shrunk since, and which items are on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageWindow {
    pub page: usize,
    pub pages: usize,
    skip: usize,
    take: usize,
}

impl PageWindow {
    pub fn of(count: usize, requested: usize, per_page: usize) -> PageWindow {
        let per_page = per_page.max(1);
        let pages = pages(count, per_page);
        let page = requested.min(pages - 1);
        PageWindow {
            page,
            pages,
            skip: page * per_page,
            take: per_page,
        }
    }

    /// The items on this page.
    pub fn items<I: IntoIterator>(&self, all: I) -> impl Iterator<Item = I::Item> {
        all.into_iter().skip(self.skip).take(self.take)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shrunken_list_shows_its_last_page() {
        let window = PageWindow::of(5, 9, 2);
        assert_eq!((window.page, window.pages), (2, 3));
        assert_eq!(window.items(0..5).collect::<Vec<_>>(), vec![4]);
    }

    #[test]
    fn an_empty_list_is_one_empty_page() {
        let window = PageWindow::of(0, 0, 3);
        assert_eq!((window.page, window.pages), (0, 1));
        assert_eq!(window.items(0..0).count(), 0);
    }

    #[test]
    fn turning_stops_at_both_ends() {
        assert_eq!(turn(0, -1, 3), 0);
        assert_eq!(turn(2, 1, 3), 2);
        assert_eq!(turn(1, 1, 3), 2);
        assert_eq!(turn(0, 1, 0), 0);
    }
}
