fn main() {
    println!("bianmin: skeleton");
}
